//! What a group notice says in the history, as WhatsApp words it: "Ann
//! created group "Climbing"", "You added Bob and Cara", "Ann removed you".
//! Names come from the caller (cards); this account is "You"/"you".

use super::Notice;
use parley_protocol::UserId;

/// The sentence for `notice`, seen by `me`. `name` gives a person's name.
pub fn says(notice: &Notice, me: UserId, name: impl Fn(UserId) -> String) -> String {
    // The subject ("You", "Ann") and the object ("you", "Ann").
    let subject = |user: UserId| {
        if user == me {
            "You".to_owned()
        } else {
            name(user)
        }
    };
    let object = |user: UserId| {
        if user == me {
            "you".to_owned()
        } else {
            name(user)
        }
    };
    match notice {
        Notice::Created { by, name: title } => {
            format!("{} created group \u{201c}{title}\u{201d}", subject(*by))
        }
        Notice::Added { by, users } => {
            let added: Vec<String> = users.iter().map(|u| object(*u)).collect();
            format!("{} added {}", subject(*by), list(&added))
        }
        Notice::Removed { by, user } => format!("{} removed {}", subject(*by), object(*user)),
        Notice::Left { user } => format!("{} left", subject(*user)),
        Notice::Promoted { by, user } if *user == me => {
            format!("{} made you an admin", subject(*by))
        }
        Notice::Promoted { by, user } => {
            format!("{} made {} an admin", subject(*by), object(*user))
        }
        Notice::Demoted { by, user } if *user == me => {
            format!("{} dismissed you as admin", subject(*by))
        }
        Notice::Demoted { by, user } => {
            format!("{} dismissed {} as admin", subject(*by), object(*user))
        }
        Notice::Renamed { by, name: title } => {
            format!(
                "{} changed the group name to \u{201c}{title}\u{201d}",
                subject(*by)
            )
        }
        Notice::Described { by } => format!("{} changed the group description", subject(*by)),
        Notice::Restricted {
            by,
            admins_send,
            admins_edit,
        } => {
            let send = if *admins_send {
                "only admins can send messages"
            } else {
                "all members can send messages"
            };
            let edit = if *admins_edit {
                "only admins can edit the group info"
            } else {
                "all members can edit the group info"
            };
            format!(
                "{} changed the group settings: {send}, {edit}",
                subject(*by)
            )
        }
        Notice::AutoPromoted { user } if *user == me => "You're now an admin".to_owned(),
        Notice::AutoPromoted { user } => format!("{} is now an admin", name(*user)),
    }
}

/// "Ann", "Ann and Bob", "Ann, Bob and Cara".
fn list(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// "Ann is typing…", "Ann and Bob are typing…", "3 people are typing…".
pub fn typing(names: &[String]) -> Option<String> {
    match names {
        [] => None,
        [one] => Some(format!("{one} is typing…")),
        [a, b] => Some(format!("{a} and {b} are typing…")),
        more => Some(format!("{} people are typing…", more.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_name_people_and_say_you_for_this_account() {
        let (me, ann, bob) = (UserId::new_v7(), UserId::new_v7(), UserId::new_v7());
        let name = |u: UserId| {
            if u == ann {
                "Ann".to_owned()
            } else if u == bob {
                "Bob".to_owned()
            } else {
                "Me".to_owned()
            }
        };
        let say = |n: Notice| says(&n, me, name);
        assert_eq!(
            say(Notice::Created {
                by: ann,
                name: "Climbing".into()
            }),
            "Ann created group \u{201c}Climbing\u{201d}"
        );
        assert_eq!(
            say(Notice::Added {
                by: me,
                users: vec![ann, bob]
            }),
            "You added Ann and Bob"
        );
        assert_eq!(
            say(Notice::Removed { by: ann, user: me }),
            "Ann removed you"
        );
        assert_eq!(say(Notice::Left { user: bob }), "Bob left");
        assert_eq!(
            say(Notice::Promoted { by: ann, user: me }),
            "Ann made you an admin"
        );
        assert_eq!(
            say(Notice::Demoted { by: me, user: bob }),
            "You dismissed Bob as admin"
        );
        assert_eq!(
            say(Notice::AutoPromoted { user: bob }),
            "Bob is now an admin"
        );
        assert_eq!(list(&["A".into(), "B".into(), "C".into()]), "A, B and C");
    }

    #[test]
    fn typing_counts_people_beyond_two() {
        assert_eq!(typing(&[]), None);
        assert_eq!(typing(&["Ann".into()]).unwrap(), "Ann is typing…");
        assert_eq!(
            typing(&["Ann".into(), "Bob".into()]).unwrap(),
            "Ann and Bob are typing…"
        );
        assert_eq!(
            typing(&["A".into(), "B".into(), "C".into()]).unwrap(),
            "3 people are typing…"
        );
    }
}

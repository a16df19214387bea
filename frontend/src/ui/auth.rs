//! Sign-in and sign-up, one screen with two modes.

use crate::api::{self, ApiFailure};
use crate::device::device_name;
use crate::session::Session;
use crate::state::AppState;
use crate::ui::claims;
use crate::ui::field::Field;
use crate::ui::focus;
use crate::ui::form::{BusyButton, FormError, Submission};
use crate::ui::icons::{IconLock, Logo};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use parley_protocol::api::{RegisterRequest, SignInRequest};
use parley_protocol::{ErrorCode, validate};

/// A field the server can blame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Blamed {
    Handle,
    Name,
    Password,
}

impl Blamed {
    /// The field a server error code is about, if it is about one.
    fn of(code: Option<ErrorCode>) -> Option<Self> {
        match code? {
            ErrorCode::InvalidHandle | ErrorCode::HandleTaken => Some(Self::Handle),
            ErrorCode::InvalidDisplayName => Some(Self::Name),
            ErrorCode::InvalidPassword | ErrorCode::CommonPassword => Some(Self::Password),
            _ => None,
        }
    }

    fn selector(self) -> &'static str {
        match self {
            Self::Handle => "#handle",
            Self::Name => "#display-name",
            Self::Password => "#password",
        }
    }
}

/// Which form is showing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    SignIn,
    SignUp,
}

/// The auth screen (`auth-screen`). Fields are validated inline with the
/// same rules the server applies; the server's verdict shows in `auth-error`.
#[component]
pub fn AuthScreen() -> impl IntoView {
    let app = expect_context::<AppState>();
    let session = expect_context::<Session>();
    let mode = RwSignal::new(Mode::SignIn);
    let handle = RwSignal::new(String::new());
    let display_name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let form = Submission::default();
    // What the server said about one field, shown at that field until it changes.
    let blamed = RwSignal::new(None::<(Blamed, String)>);
    Effect::new(move |_| {
        handle.track();
        display_name.track();
        password.track();
        mode.track();
        blamed.set(None);
    });
    let from_server = move |field: Blamed| {
        blamed.with(|b| {
            b.as_ref()
                .filter(|(f, _)| *f == field)
                .map(|(_, m)| m.clone())
        })
    };

    let handle_error = Signal::derive(move || {
        handle
            .with(|h| validate::normalize_handle(h).err().map(|e| e.message))
            .or_else(|| from_server(Blamed::Handle))
    });
    let name_error = Signal::derive(move || {
        if mode.get() == Mode::SignUp {
            display_name
                .with(|n| validate::display_name(n).err().map(|e| e.message))
                .or_else(|| from_server(Blamed::Name))
        } else {
            None
        }
    });
    let password_error = Signal::derive(move || match mode.get() {
        Mode::SignUp => password
            .with(|p| {
                validate::new_password(p)
                    .and_then(|()| {
                        let handle = handle
                            .with(|h| validate::normalize_handle(h))
                            .unwrap_or_default();
                        validate::guessable_password(p, &handle)
                    })
                    .err()
                    .map(|e| e.message)
            })
            .or_else(|| from_server(Blamed::Password)),
        // Existing passwords are checked by the server only: rules may change.
        Mode::SignIn => password
            .with(String::is_empty)
            .then(|| "Enter your password.".to_owned()),
    });

    let switch_to = move |next: Mode| {
        mode.set(next);
        form.attempted.set(false);
        form.error.set(None);
    };

    let submit = move |ev: SubmitEvent| {
        if !form.begin(&ev) {
            return;
        }
        let invalid = handle_error.with_untracked(Option::is_some)
            || name_error.with_untracked(Option::is_some)
            || password_error.with_untracked(Option::is_some);
        if invalid {
            return;
        }
        let handle = handle
            .with_untracked(|h| validate::normalize_handle(h))
            .unwrap_or_default();
        let password = password.get_untracked();
        let device_name = Some(device_name());
        let request = match mode.get_untracked() {
            Mode::SignIn => Err(SignInRequest {
                handle,
                password,
                device_name,
            }),
            Mode::SignUp => Ok(RegisterRequest {
                handle,
                display_name: display_name
                    .with_untracked(|n| validate::display_name(n))
                    .unwrap_or_default(),
                password,
                device_name,
            }),
        };
        let request = async move {
            match request {
                Ok(register) => api::register(&register).await,
                Err(sign_in) => api::sign_in(&sign_in).await,
            }
        };
        // A verdict on one field shows at that field, which takes focus.
        let explain = move |failure: &ApiFailure| {
            let message = failure.message();
            match Blamed::of(failure.code()) {
                Some(field) => {
                    blamed.set(Some((field, message)));
                    focus::later(field.selector());
                    String::new()
                }
                None => message,
            }
        };
        form.send(request, explain, move |signed_in| {
            session.signed_in(signed_in);
        });
    };

    let is_sign_up = move || mode.get() == Mode::SignUp;
    // The keyboard starts in the first field.
    focus::later("#handle");

    view! {
        <main class="auth" data-testid="auth-screen">
            <div class="auth-card">
                <header class="auth-brand">
                    <Logo class="logo logo-lg" />
                    <h1>"Parley"</h1>
                    <p class="auth-tagline">{claims::AUTH_TAGLINE}</p>
                </header>
                {move || {
                    app.notice
                        .get()
                        .map(|notice| {
                            view! {
                                <div class="notice" role="status" data-testid="auth-notice">
                                    {notice}
                                </div>
                            }
                        })
                }}
                <h2 class="auth-title">
                    {move || if is_sign_up() { "Create your account" } else { "Sign in" }}
                </h2>
                <form class="form" novalidate=true on:submit=submit>
                    <Field
                        label="Phone number or username"
                        id="handle"
                        error_id="error-handle"
                        value=handle
                        error=handle_error
                        attempted=form.attempted
                        autocomplete="username"
                        placeholder="+44 20 7946 0958 or alice"
                        hint="Phone numbers start with + and the country code."
                    />
                    <Show when=is_sign_up>
                        <Field
                            label="Your name"
                            id="display-name"
                            error_id="error-display-name"
                            value=display_name
                            error=name_error
                            attempted=form.attempted
                            autocomplete="name"
                            placeholder="How contacts will see you"
                        />
                    </Show>
                    <Field
                        label="Password"
                        id="password"
                        error_id="error-password"
                        value=password
                        error=password_error
                        attempted=form.attempted
                        kind="password"
                        hint=Signal::derive(move || is_sign_up().then_some(validate::PASSWORD_RULE))
                        autocomplete=Signal::derive(move || {
                            if is_sign_up() { "new-password" } else { "current-password" }
                        })
                    />
                    <FormError error=form.error test_id="auth-error" />
                    <BusyButton
                        class="btn btn-primary btn-block"
                        test_id="auth-submit"
                        busy=form.busy
                        label=Signal::derive(move || {
                            if is_sign_up() { "Create account" } else { "Sign in" }
                        })
                        busy_label=Signal::derive(move || {
                            if is_sign_up() { "Creating account…" } else { "Signing in…" }
                        })
                    />
                </form>
                <p class="auth-switch">
                    {move || {
                        let (question, test_id, label, next) = if is_sign_up() {
                            ("Already have an account? ", "show-sign-in", "Sign in", Mode::SignIn)
                        } else {
                            ("New to Parley? ", "show-sign-up", "Create an account", Mode::SignUp)
                        };
                        view! {
                            {question}
                            <button
                                type="button"
                                class="link"
                                data-testid=test_id
                                on:click=move |_| switch_to(next)
                            >
                                {label}
                            </button>
                        }
                    }}
                </p>
                <p class="auth-footnote">
                    <IconLock />
                    " "
                    {claims::AUTH_FOOTNOTE}
                </p>
            </div>
        </main>
    }
}

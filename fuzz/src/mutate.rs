//! Byte-level mutations in the spirit of libFuzzer's: each call changes one
//! thing. Binary formats (postcard, Olm) get bit flips, boundary bytes and
//! rewritten varint lengths; text formats (JSON, pickles) get dictionary
//! tokens and rewritten decimal numbers; both get inserts, deletes,
//! duplicated ranges and splices with other corpus entries.

use rand::Rng;
use rand::rngs::SmallRng;

/// Bytes that sit on boundaries: zero, one, sign bits, varint continuation,
/// a JSON quote and backslash.
const BOUNDARY_BYTES: [u8; 10] = [0, 1, 2, 0x7f, 0x80, 0xfe, 0xff, b'"', b'\\', b'0'];

/// Lengths and numbers around the limits of the protocol and of the types.
const BOUNDARY_NUMBERS: [u64; 22] = [
    0,
    1,
    2,
    15,
    16,
    31,
    32,
    33,
    64,
    65,
    127,
    128,
    255,
    1_024,
    16 * 1_024,
    64 * 1_024,
    256 * 1_024,
    u16::MAX as u64,
    u32::MAX as u64,
    i64::MAX as u64,
    i64::MIN as u64,
    u64::MAX,
];

/// Applies one random mutation to `input`, then cuts it to `max_len`.
pub fn mutate(
    input: &mut Vec<u8>,
    rng: &mut SmallRng,
    corpus: &[Vec<u8>],
    dictionary: &[&[u8]],
    max_len: usize,
) {
    let len = input.len();
    let at = rng.random_range(0..=len);
    match rng.random_range(0..14u8) {
        0 if at < len => input[at] ^= 1 << rng.random_range(0..8),
        1 if at < len => input[at] = BOUNDARY_BYTES[rng.random_range(0..BOUNDARY_BYTES.len())],
        2 if at < len => input[at] = rng.random(),
        3 if at < len => input[at] = input[at].wrapping_add(rng.random_range(1..=16)),
        4 if at < len => input[at] = input[at].wrapping_sub(rng.random_range(1..=16)),
        5 if at < len => {
            let most = (len - at).min(span(rng));
            let end = at + rng.random_range(1..=most);
            input.drain(at..end);
        }
        6 if at < len => {
            let most = (len - at).min(span(rng));
            let end = at + rng.random_range(1..=most);
            let copy = input[at..end].to_vec();
            let to = rng.random_range(0..=len);
            input.splice(to..to, copy);
        }
        7 if !corpus.is_empty() => {
            let other = &corpus[rng.random_range(0..corpus.len())];
            let from = rng.random_range(0..=other.len());
            input.truncate(at);
            input.extend_from_slice(&other[from..]);
        }
        8 => write_varint(input, at, number(rng)),
        9 => write_decimal(input, at, number(rng), rng.random_bool(0.2)),
        10 if !dictionary.is_empty() => {
            let token = dictionary[rng.random_range(0..dictionary.len())];
            input.splice(at..at, token.iter().copied());
        }
        11 if !dictionary.is_empty() => {
            let token = dictionary[rng.random_range(0..dictionary.len())];
            let end = (at + token.len()).min(len);
            input.splice(at..end, token.iter().copied());
        }
        12 => input.truncate(at),
        _ => {
            let bytes: Vec<u8> = (0..rng.random_range(1..=8)).map(|_| rng.random()).collect();
            input.splice(at..at, bytes);
        }
    }
    input.truncate(max_len);
}

/// A range length: mostly short, sometimes long.
fn span(rng: &mut SmallRng) -> usize {
    if rng.random_bool(0.9) { 16 } else { 4_096 }
}

/// A boundary number, or one just beside it.
fn number(rng: &mut SmallRng) -> u64 {
    let n = BOUNDARY_NUMBERS[rng.random_range(0..BOUNDARY_NUMBERS.len())];
    match rng.random_range(0..4u8) {
        0 => n.wrapping_add(1),
        1 => n.wrapping_sub(1),
        _ => n,
    }
}

/// Replaces the LEB128 varint starting at `at` (postcard's lengths, enum
/// tags and integers) with `n`.
fn write_varint(input: &mut Vec<u8>, at: usize, n: u64) {
    let mut end = at;
    while end < input.len() && input[end] & 0x80 != 0 {
        end += 1;
    }
    end = (end + 1).min(input.len());
    let mut bytes = Vec::with_capacity(10);
    let mut rest = n;
    loop {
        let low = (rest & 0x7f) as u8;
        rest >>= 7;
        if rest == 0 {
            bytes.push(low);
            break;
        }
        bytes.push(low | 0x80);
    }
    input.splice(at.min(end)..end, bytes);
}

/// Replaces the next run of ASCII digits from `at` (a JSON number, an
/// expiry) with `n`, negated when `negative`; inserts it if there is none.
fn write_decimal(input: &mut Vec<u8>, at: usize, n: u64, negative: bool) {
    let text = if negative {
        format!("-{n}")
    } else {
        n.to_string()
    };
    let start = input[at..]
        .iter()
        .position(u8::is_ascii_digit)
        .map_or(at, |offset| at + offset);
    let end = input[start..]
        .iter()
        .position(|b| !b.is_ascii_digit())
        .map_or(input.len(), |offset| start + offset);
    input.splice(start..end, text.bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_are_rewritten_in_place() {
        let mut input = vec![9, 0xac, 0x02, 7];
        write_varint(&mut input, 1, 1);
        assert_eq!(input, vec![9, 1, 7]);
        write_varint(&mut input, 1, 300);
        assert_eq!(input, vec![9, 0xac, 0x02, 7]);
    }

    #[test]
    fn decimals_are_rewritten_in_place() {
        let mut input = b"{\"n\":123}".to_vec();
        write_decimal(&mut input, 0, 7, true);
        assert_eq!(input, b"{\"n\":-7}".to_vec());
    }
}

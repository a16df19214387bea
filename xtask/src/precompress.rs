//! Precompressed copies of the built client: `name.br` (brotli, quality 11,
//! 16 MiB window) and `name.gz` (gzip, best) next to each text-like file in
//! dist/. The server sends them as they are (`backend/src/web/static_files.rs`)
//! instead of compressing on every request, and at a level too slow to use
//! per request. A copy that would not be smaller is not written.

use anyhow::{Context, Result};
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Extensions worth compressing; images such as PNG are compressed already.
const COMPRESSIBLE: &[&str] = &[
    "wasm",
    "js",
    "css",
    "html",
    "webmanifest",
    "svg",
    "json",
    "txt",
];

/// A content coding of the copies, by the suffix of their file names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Brotli,
    Gzip,
}

impl Coding {
    pub const ALL: [Self; 2] = [Self::Brotli, Self::Gzip];

    fn suffix(self) -> &'static str {
        match self {
            Self::Brotli => "br",
            Self::Gzip => "gz",
        }
    }

    /// Where the copy of `file` in this coding goes.
    pub fn copy_of(self, file: &Path) -> PathBuf {
        let mut name = file.as_os_str().to_owned();
        name.push(".");
        name.push(self.suffix());
        PathBuf::from(name)
    }

    fn encode(self, data: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        match self {
            Self::Brotli => {
                let params = brotli::enc::BrotliEncoderParams {
                    quality: 11,
                    // The largest window every browser decodes (large-window
                    // brotli is not part of the HTTP coding).
                    lgwin: 24,
                    size_hint: data.len(),
                    ..Default::default()
                };
                brotli::BrotliCompress(&mut &data[..], &mut out, &params)?;
            }
            Self::Gzip => {
                let mut encoder =
                    flate2::write::GzEncoder::new(&mut out, flate2::Compression::best());
                encoder.write_all(data)?;
                encoder.finish()?;
            }
        }
        Ok(out)
    }
}

/// Sizes over the files compressed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub files: usize,
    pub raw: u64,
    pub brotli: u64,
    pub gzip: u64,
}

/// Writes the copies for every compressible file under `dir`, replacing
/// older ones, and removes copies left from a file that no longer shrinks.
pub fn dist(dir: &Path) -> Result<Totals> {
    let mut totals = Totals::default();
    for file in files(dir)? {
        let data = fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
        totals.files += 1;
        totals.raw += data.len() as u64;
        for coding in Coding::ALL {
            let copy = coding.copy_of(&file);
            let encoded = coding.encode(&data)?;
            let sent = if encoded.len() < data.len() {
                fs::write(&copy, &encoded)
                    .with_context(|| format!("writing {}", copy.display()))?;
                encoded.len()
            } else {
                remove_if_present(&copy)?;
                data.len()
            };
            match coding {
                Coding::Brotli => totals.brotli += sent as u64,
                Coding::Gzip => totals.gzip += sent as u64,
            }
        }
    }
    Ok(totals)
}

/// The bytes sent for `file` to a browser that accepts `coding`: its copy
/// when there is one, else the file itself.
pub fn sent_bytes(file: &Path, coding: Coding) -> Result<u64> {
    let copy = coding.copy_of(file);
    let path = if copy.is_file() { &copy } else { file };
    Ok(fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len())
}

fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Compressible files under `dir`, in a stable order.
fn files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if is_compressible(&path) {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

fn is_compressible(path: &Path) -> bool {
    path.extension()
        .and_then(|ext| ext.to_str())
        .is_some_and(|ext| COMPRESSIBLE.contains(&ext.to_ascii_lowercase().as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    fn scratch(name: &str) -> Result<PathBuf> {
        let dir = std::env::temp_dir().join(format!("xtask-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("icons"))?;
        Ok(dir)
    }

    #[test]
    fn text_files_get_both_copies_images_and_tiny_files_none() -> Result<()> {
        let dir = scratch("precompress")?;
        let js = "export function hello() { return 'hello'; }\n".repeat(200);
        fs::write(dir.join("app-0123456789abcdef.js"), &js)?;
        fs::write(dir.join("icons/icon.svg"), "<svg>".repeat(100))?;
        fs::write(dir.join("icons/icon.png"), "<png>".repeat(100))?;
        fs::write(dir.join("robots.txt"), "x")?;
        // A copy left from an earlier build of a file that no longer shrinks.
        fs::write(dir.join("robots.txt.gz"), "stale")?;

        let totals = dist(&dir)?;
        assert_eq!(totals.files, 3);

        let js_path = dir.join("app-0123456789abcdef.js");
        let br = fs::read(Coding::Brotli.copy_of(&js_path))?;
        let mut decoded = Vec::new();
        brotli::Decompressor::new(&br[..], 4096).read_to_end(&mut decoded)?;
        assert_eq!(decoded, js.as_bytes());
        let gz = fs::read(Coding::Gzip.copy_of(&js_path))?;
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut decoded)?;
        assert_eq!(decoded, js.as_bytes());

        assert!(dir.join("icons/icon.svg.br").is_file());
        assert!(!dir.join("icons/icon.png.br").exists());
        assert!(!dir.join("robots.txt.br").exists());
        assert!(!dir.join("robots.txt.gz").exists());
        assert_eq!(sent_bytes(&dir.join("robots.txt"), Coding::Gzip)?, 1);
        assert_eq!(sent_bytes(&js_path, Coding::Brotli)?, br.len() as u64);

        // Again: copies of copies are never made.
        dist(&dir)?;
        assert!(!dir.join("app-0123456789abcdef.js.br.br").exists());
        let _ = fs::remove_dir_all(&dir);
        Ok(())
    }
}

//! Links the service worker to this build's wasm bindings.
//!
//! `frontend/sw.js` is a module worker that imports the app's own wasm for
//! its push handler; Trunk copies it verbatim, and the bindings' file name
//! carries a content hash that changes with every build. So after `trunk
//! build` the placeholder path is replaced by the real one. That also makes
//! `sw.js` itself change with every build, which is what tells browsers to
//! update the worker (and its cached shell).

use anyhow::{Context, Result, bail};
use std::path::Path;

/// What `frontend/sw.js` names the bindings by until it is linked: the
/// path without its extension, so `.js` (the import) and `_bg.wasm` (what
/// it instantiates) both follow.
const PLACEHOLDER: &str = "/__PARLEY_BINDINGS__";

/// Points `dist/sw.js` at the bindings Trunk wrote into `dist`, and writes
/// `dist/sw-classic.js` beside it for browsers without module workers.
pub fn link(dist: &Path) -> Result<()> {
    let bindings = bindings_in(dist)?;
    let path = dist.join("sw.js");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let text = linked(&text, &bindings)?;
    std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
    let classic = dist.join("sw-classic.js");
    std::fs::write(&classic, classic_of(&text)?)
        .with_context(|| format!("writing {}", classic.display()))
}

/// The same worker without its one `import`: where module workers are not
/// supported it still caches the shell, and a push says "New message".
fn classic_of(text: &str) -> Result<String> {
    let imports: Vec<&str> = text.lines().filter(|l| l.starts_with("import ")).collect();
    let [import] = imports.as_slice() else {
        bail!(
            "sw.js should have exactly one import, found {}",
            imports.len()
        );
    };
    Ok(text.replace(
        import,
        "// A classic worker (no module workers here): no wasm, pushes say \"New message\".\n\
         const initWasm = () => Promise.reject(new Error('no module service workers here'));\n\
         const parleyPushAlerts = undefined;",
    ))
}

/// The one `parley-web-<hash>.js` in `dist`.
fn bindings_in(dist: &Path) -> Result<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dist).with_context(|| format!("listing {}", dist.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.starts_with("parley-web-") && name.ends_with(".js") {
            found.push(name);
        }
    }
    match found.as_slice() {
        [one] => Ok(one.clone()),
        _ => bail!(
            "expected one parley-web-*.js in {}, found {found:?}",
            dist.display()
        ),
    }
}

/// `text` with the placeholder replaced by `/<bindings without .js>`.
fn linked(text: &str, bindings: &str) -> Result<String> {
    if !text.contains(PLACEHOLDER) {
        bail!("sw.js does not name {PLACEHOLDER}");
    }
    let stem = bindings.strip_suffix(".js").unwrap_or(bindings);
    Ok(text.replace(PLACEHOLDER, &format!("/{stem}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_placeholder_becomes_the_hashed_bindings() {
        let text =
            "import init from '/__PARLEY_BINDINGS__.js'; init('/__PARLEY_BINDINGS___bg.wasm');";
        assert_eq!(
            linked(text, "parley-web-0af3.js").ok().as_deref(),
            Some("import init from '/parley-web-0af3.js'; init('/parley-web-0af3_bg.wasm');")
        );
        assert!(linked("no import here", "x.js").is_err());
    }

    #[test]
    fn the_classic_worker_has_no_import() {
        let text = "a\nimport init, { f } from '/x.js';\nb\n";
        let classic = classic_of(text).unwrap_or_default();
        assert!(!classic.contains("import "), "{classic}");
        assert!(classic.starts_with("a\n") && classic.ends_with("\nb\n"));
        assert!(classic.contains("const initWasm"));
        assert!(classic_of("no imports").is_err());
    }

    #[test]
    fn the_frontends_worker_has_the_placeholder() {
        // Read when the test runs: a shared target dir may run a binary
        // built from another checkout.
        let dir = std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default();
        let sw = Path::new(&dir).join("../frontend/sw.js");
        let text = std::fs::read_to_string(sw).unwrap_or_default();
        assert!(text.contains(PLACEHOLDER));
    }
}

//! The menu source (`menu = "MENU.toml"`) kept rendered into the root: `pxe serve`
//! re-renders it on a reload when it changed.

use crate::config::Config;
use crate::error::Error;

/// The menu source (`menu = "..."`) as last seen, to re-render it into the root when a
/// reload finds it changed.
#[derive(Debug)]
pub struct MenuSource {
    text: Option<String>,
}

impl MenuSource {
    /// The source `config` names, as it is now.
    #[must_use]
    pub fn new(config: &Config) -> Self {
        let text = config
            .menu
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok());
        Self { text }
    }

    /// Renders the source `config` names into its root when it differs from the last seen.
    pub fn rerender_if_changed(&mut self, config: &Config) -> Result<(), Error> {
        let (Some(src), Some(root)) = (&config.menu, &config.root) else {
            return Ok(());
        };
        let text = std::fs::read_to_string(src)
            .map_err(|e| Error::io(format!("read menu {}", src.display()), e))?;
        if self.text.as_deref() == Some(text.as_str()) {
            return Ok(());
        }
        let menu: pxe_menu::Menu =
            toml::from_str(&text).map_err(|e| Error::Menu(format!("{}: {e}", src.display())))?;
        let files = menu
            .render()
            .map_err(|e| Error::Menu(format!("{}: {e}", src.display())))?;
        let files: Vec<(String, String)> =
            files.into_iter().map(|f| (f.path, f.contents)).collect();
        // The same rules as `pxe menu render` without `--force`: a foreign or hand-edited
        // file is left alone (and said so), the others are written.
        let w = crate::rendered::write_rendered(root, &files, crate::rendered::OnConflict::Skip)?;
        for s in &w.skipped {
            tracing::warn!(file = %s.path, reason = s.reason, "rendered file not overwritten; move it away or run `pxe menu render --force`");
        }
        tracing::info!(menu = %src.display(), files = w.written.len(), skipped = w.skipped.len(), "menu re-rendered into the root");
        self.text = Some(text);
        Ok(())
    }
}

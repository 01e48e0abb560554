//! Findings of the checking commands (`pxe doctor`, the menu lint it runs): what was found,
//! how bad it is, which check found it.

use std::fmt;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing breaks.
    Info,
    /// Likely to bite later.
    Warning,
    /// Clients will fail, or the tree is unsafe.
    Error,
}

/// One finding of `pxe doctor`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// How bad it is.
    pub severity: Severity,
    /// Which check found it (`files`, `permissions`, `uploads`, `syslinux`, `menu`, `ports`,
    /// `config`).
    pub check: &'static str,
    /// What is wrong, where, and how to fix it.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self.severity {
            Severity::Info => "ok     ",
            Severity::Warning => "WARNING",
            Severity::Error => "ERROR  ",
        };
        write!(f, "{tag} [{}] {}", self.check, self.message)
    }
}

/// All findings of one run.
#[derive(Debug, Default)]
pub struct Report {
    /// In the order found.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Adds a finding.
    pub fn push(&mut self, severity: Severity, check: &'static str, message: impl Into<String>) {
        self.findings.push(Finding {
            severity,
            check,
            message: message.into(),
        });
    }

    /// Number of findings of `severity`.
    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }
}

//! The alert book: one [`Alert`] per kind and subject, its lifecycle, acknowledgements and expiry.
//!
//! Detectors say "this condition holds" or "it ended" ([`Signal`]); the book turns that into alerts:
//!
//! * **Deduplicated**: the id is a function of kind, site and subject ([`AlertId::of`]). A raise for an
//!   active alert refreshes its explanation; it never opens a second one.
//! * **Lifecycle**: `open` → `acknowledged` (by a person, [`AlertBook::acknowledge`]) → `resolved` (the
//!   condition ended). A raise after resolution opens a new occurrence under the same id.
//! * **Persistent across restarts**: [`AlertBook::restore`] takes back the retained alerts before any
//!   reading is evaluated, and the detectors are re-armed from them, so a restart neither repeats an open
//!   alert nor forgets one.
//! * **Expiry**: resolved alerts are kept for `alerts.resolved_retention`, then removed (their retained
//!   topic is cleared).

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use zw_model::alert::{ALERT_SCHEMA_VERSION, AckCommand, Alert, AlertId, AlertState};

use crate::explain::{Change, Signal};

/// What an acknowledgement did.
#[derive(Debug, Clone, PartialEq)]
pub enum AckOutcome {
    /// The alert is now acknowledged.
    Acknowledged(Box<Alert>),
    /// Nothing changed: unknown alert, already acknowledged, or resolved.
    Ignored(&'static str),
}

/// Every alert known, active or recently resolved.
#[derive(Debug, Clone, Default)]
pub struct AlertBook {
    alerts: HashMap<AlertId, Alert>,
    retention: TimeDelta,
}

impl AlertBook {
    /// An empty book keeping resolved alerts for `retention`.
    pub fn new(retention: std::time::Duration) -> Self {
        Self {
            alerts: HashMap::new(),
            retention: TimeDelta::from_std(retention).unwrap_or(TimeDelta::days(7)),
        }
    }

    /// Takes back an alert read from its retained topic (the newer version wins).
    pub fn restore(&mut self, alert: Alert) {
        match self.alerts.get(&alert.id) {
            Some(known) if known.updated_at >= alert.updated_at => {}
            _ => {
                self.alerts.insert(alert.id.clone(), alert);
            }
        }
    }

    /// Applies a detector's signal; returns the alert as it should now be published, if it changed.
    pub fn apply(&mut self, s: Signal) -> Option<Alert> {
        let id = AlertId::of(s.kind, &s.site, &s.subject);
        match (s.change, self.alerts.get_mut(&id)) {
            (
                Change::Raise {
                    severity,
                    explanation,
                },
                Some(a),
            ) if a.is_active() => {
                a.severity = severity;
                a.explanation = explanation;
                a.updated_at = s.at;
                Some(a.clone())
            }
            (
                Change::Raise {
                    severity,
                    explanation,
                },
                _,
            ) => {
                let a = Alert {
                    v: ALERT_SCHEMA_VERSION,
                    id: id.clone(),
                    kind: s.kind,
                    category: s.kind.category(),
                    site: s.site,
                    subject: s.subject,
                    state: AlertState::Open,
                    severity,
                    opened_at: s.at,
                    updated_at: s.at,
                    resolved_at: None,
                    acknowledged_by: None,
                    acknowledged_at: None,
                    explanation,
                };
                self.alerts.insert(id, a.clone());
                Some(a)
            }
            (Change::Clear { reason }, Some(a)) if a.is_active() => {
                a.state = AlertState::Resolved;
                a.resolved_at = Some(s.at);
                a.updated_at = s.at;
                a.explanation.text = format!("resolved: {reason} (was: {})", a.explanation.text);
                Some(a.clone())
            }
            (Change::Clear { .. }, _) => None,
        }
    }

    /// Acknowledges an active alert on behalf of a person.
    pub fn acknowledge(&mut self, cmd: &AckCommand, now: DateTime<Utc>) -> AckOutcome {
        let Some(a) = self.alerts.get_mut(&cmd.alert) else {
            return AckOutcome::Ignored("unknown");
        };
        match a.state {
            AlertState::Resolved => AckOutcome::Ignored("resolved"),
            AlertState::Acknowledged => AckOutcome::Ignored("already_acknowledged"),
            AlertState::Open => {
                a.state = AlertState::Acknowledged;
                a.acknowledged_by = Some(cmd.by.to_string());
                a.acknowledged_at = Some(cmd.ts.min(now));
                a.updated_at = now.max(a.updated_at);
                AckOutcome::Acknowledged(Box::new(a.clone()))
            }
        }
    }

    /// Resolves an alert nothing can confirm any more (its subject left the inventory).
    pub fn resolve(&mut self, id: &AlertId, now: DateTime<Utc>, reason: &str) -> Option<Alert> {
        let a = self.alerts.get_mut(id).filter(|a| a.is_active())?;
        a.state = AlertState::Resolved;
        a.resolved_at = Some(now);
        a.updated_at = now;
        a.explanation.text = format!("resolved: {reason} (was: {})", a.explanation.text);
        Some(a.clone())
    }

    /// Removes resolved alerts older than the retention; returns them (to clear their topics).
    pub fn expire(&mut self, now: DateTime<Utc>) -> Vec<Alert> {
        let cutoff = now - self.retention;
        let old: Vec<AlertId> = self
            .alerts
            .values()
            .filter(|a| a.resolved_at.is_some_and(|r| r < cutoff))
            .map(|a| a.id.clone())
            .collect();
        old.iter().filter_map(|id| self.alerts.remove(id)).collect()
    }

    /// Removes an alert whose retained topic was cleared (another instance's, see [`crate::partition`]).
    pub fn remove(&mut self, id: &AlertId) -> Option<Alert> {
        self.alerts.remove(id)
    }

    /// Active (open or acknowledged) alerts.
    pub fn active(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.values().filter(|a| a.is_active())
    }

    /// Looks an alert up.
    pub fn get(&self, id: &AlertId) -> Option<&Alert> {
        self.alerts.get(id)
    }

    /// Number of alerts held (active and resolved).
    pub fn len(&self) -> usize {
        self.alerts.len()
    }

    /// Whether the book is empty.
    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
    }
}

#[cfg(test)]
mod tests;

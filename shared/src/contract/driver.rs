//! Driver state as a pure fold over the contract events applied to one accounting point.
//!
//! Events arrive duplicated, out of order and concurrently. Rather than patching state in
//! arrival order (which makes the result depend on arrival order), the driver record keeps
//! the recent events it has seen, sorted by `(EventTime, EventID)`, and its state is always
//! `fold(sorted events)`. An event older than the newest one is merged into that history
//! and the state recomputed; the outcome is `stale` (it changes nothing current, but e.g.
//! an RFID it carried is remembered as an inactive token so in-flight sessions still settle).
//! The history is bounded: beyond [`MAX_HISTORY`] events the oldest are folded into a base
//! state, and an event older than that base is stale and not merged.
//!
//! Each token remembers the newest event in which the driver received it
//! ([`Token::received`]); being part of the fold, it too is independent of arrival order.
//! The contract handler publishes it as the token's holder entry, from which
//! `contract::tokens::owner_of` picks the token's owner across drivers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::event::{ContractEvent, EventName};

/// Events kept per driver before the oldest are compacted into the base state.
pub const MAX_HISTORY: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TokenKind {
    Rfid,
    Virtual,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Rfid => "rfid",
            TokenKind::Virtual => "virtual",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Token {
    pub value: String,
    pub kind: TokenKind,
    pub active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The newest event, by `(EventTime, EventID)`, in which this driver received the token:
    /// an activation or update carrying it (the virtual token: one carrying no RFID). Across
    /// drivers, the greatest one names the token's owner (see `contract::tokens`). `None`
    /// only in records written before it was kept, for tokens compacted out of the history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<Since>,
}

/// An event's place in the `(EventTime, EventID)` order, the order every rule uses.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Since {
    pub event_time: DateTime<Utc>,
    pub event_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRef {
    pub event_time: DateTime<Utc>,
    pub event_id: String,
    pub event_name: EventName,
}

/// One event as applied: the contract snapshot it carried, with its site already resolved
/// against the tenant configuration of the moment, so re-folding is deterministic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppliedEvent {
    pub event_id: String,
    pub event_name: EventName,
    pub event_time: DateTime<Utc>,
    pub contract_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rfid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rfid_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_id: Option<i64>,
}

impl AppliedEvent {
    pub fn from_event(e: &ContractEvent, site_id: Option<i64>) -> Self {
        AppliedEvent {
            event_id: e.event_id.clone(),
            event_name: e.event_name,
            event_time: e.event_time,
            contract_id: e.contract_id.clone(),
            product_code: e.product_code.clone(),
            rfid: e.rfid.clone(),
            rfid_name: e.rfid_name.clone(),
            site_id,
        }
    }

    fn order_key(&self) -> (DateTime<Utc>, &str) {
        (self.event_time, self.event_id.as_str())
    }

    /// Activation and update carry a full contract snapshot; termination does not.
    fn is_snapshot(&self) -> bool {
        self.event_name != EventName::ContractTerminated
    }

    /// This event's place in the `(EventTime, EventID)` order.
    pub fn since(&self) -> Since {
        Since {
            event_time: self.event_time,
            event_id: self.event_id.clone(),
        }
    }

    pub fn reference(&self) -> EventRef {
        EventRef {
            event_time: self.event_time,
            event_id: self.event_id.clone(),
            event_name: self.event_name,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DriverState {
    pub active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_id: Option<String>,
    /// Every token the driver has had, in the order it got them.
    pub tokens: Vec<Token>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event: Option<EventRef>,
}

impl DriverState {
    fn apply(&mut self, e: &AppliedEvent, virtual_token: Option<&str>) {
        let existed = self.last_event.is_some();
        match e.event_name {
            EventName::ContractActivated => self.active = true,
            // An update for an unknown accounting point creates the driver as an activation.
            EventName::ContractUpdated if !existed => self.active = true,
            EventName::ContractUpdated => {}
            EventName::ContractTerminated => self.active = false,
        }
        if e.is_snapshot() {
            self.product_code = e.product_code.clone();
            self.site_id = e.site_id;
            self.contract_id = Some(e.contract_id.clone());
            let (value, kind, name) = match (&e.rfid, virtual_token) {
                (Some(r), _) => (Some(r.clone()), TokenKind::Rfid, e.rfid_name.clone()),
                (None, Some(v)) => (Some(v.to_owned()), TokenKind::Virtual, None),
                (None, None) => (None, TokenKind::Virtual, None),
            };
            if let Some(v) = &value {
                // Events are folded in order, so the last one to carry a token is the newest.
                let received = Some(e.since());
                match self.tokens.iter_mut().find(|t| &t.value == v) {
                    Some(t) => {
                        if name.is_some() {
                            t.name = name;
                        }
                        t.received = received;
                    }
                    None => self.tokens.push(Token {
                        value: v.clone(),
                        kind,
                        active: false,
                        name,
                        received,
                    }),
                }
            }
            self.current_token = value;
        }
        let current = self.current_token.clone();
        for t in &mut self.tokens {
            t.active = self.active && Some(&t.value) == current.as_ref();
        }
        self.last_event = Some(e.reference());
    }
}

/// Folds events (sorted) onto a base state.
pub fn fold(
    base: &DriverState,
    events: &[AppliedEvent],
    virtual_token: Option<&str>,
) -> DriverState {
    let mut s = base.clone();
    for e in events {
        s.apply(e, virtual_token);
    }
    s
}

/// The persisted driver: identity, history and the state derived from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DriverRecord {
    pub external_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_token: Option<String>,
    /// State folded from events compacted out of `history`.
    #[serde(default)]
    pub base: DriverState,
    /// Recent events, sorted by `(EventTime, EventID)`, all newer than `base.last_event`.
    pub history: Vec<AppliedEvent>,
    pub state: DriverState,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What merging one event into a record does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    /// Newest event so far: state moved forward.
    Applied,
    /// Older than the newest event: merged into history, current state recomputed.
    Stale,
    /// Older than the compacted base: cannot be merged; nothing changes.
    TooOld,
    /// Already in history.
    Duplicate,
}

impl DriverRecord {
    pub fn new(external_id: &str, now: DateTime<Utc>) -> Self {
        DriverRecord {
            external_id: external_id.to_owned(),
            virtual_token: None,
            base: DriverState::default(),
            history: Vec::new(),
            state: DriverState::default(),
            created_at: now,
            updated_at: now,
        }
    }

    /// The operator's view (CLI and admin API): current state, not the event history.
    pub fn operator_view(&self) -> serde_json::Value {
        serde_json::json!({
            "externalId": self.external_id,
            "active": self.state.active,
            // As before `received` was kept: who owns a token is `contract::tokens::owner_of`.
            "tokens": self.state.tokens.iter().map(|t| Token { received: None, ..t.clone() }).collect::<Vec<_>>(),
            "siteId": self.state.site_id,
            "productCode": self.state.product_code,
            "contractId": self.state.contract_id,
            "lastAppliedEvent": self.state.last_event,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        })
    }

    /// Whether merging `e` would need a virtual token that the record does not have yet.
    pub fn needs_virtual_token(&self, e: &AppliedEvent) -> bool {
        self.virtual_token.is_none() && e.is_snapshot() && e.rfid.is_none()
    }

    /// Merges an event and recomputes the state. Pure.
    pub fn merge(&mut self, e: AppliedEvent, now: DateTime<Utc>) -> Merge {
        if self.history.iter().any(|h| h.event_id == e.event_id) {
            return Merge::Duplicate;
        }
        if let Some(b) = &self.base.last_event {
            if (e.event_time, e.event_id.as_str()) <= (b.event_time, b.event_id.as_str()) {
                return Merge::TooOld;
            }
        }
        let pos = self
            .history
            .partition_point(|h| h.order_key() < e.order_key());
        let outcome = if pos == self.history.len() {
            Merge::Applied
        } else {
            Merge::Stale
        };
        self.history.insert(pos, e);
        if self.history.len() > MAX_HISTORY {
            let overflow = self.history.len() - MAX_HISTORY;
            let old: Vec<AppliedEvent> = self.history.drain(..overflow).collect();
            self.base = fold(&self.base, &old, self.virtual_token.as_deref());
        }
        self.state = fold(&self.base, &self.history, self.virtual_token.as_deref());
        self.updated_at = now;
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ev(
        id: &str,
        name: EventName,
        minute: u32,
        rfid: Option<&str>,
        site: Option<i64>,
    ) -> AppliedEvent {
        AppliedEvent {
            event_id: id.into(),
            event_name: name,
            event_time: Utc
                .with_ymd_and_hms(2026, 11, 20, 8, minute, 0)
                .single()
                .unwrap_or_default(),
            contract_id: "100234".into(),
            product_code: Some("LADEABO-STD".into()),
            rfid: rfid.map(str::to_owned),
            rfid_name: None,
            site_id: site,
        }
    }

    fn record() -> DriverRecord {
        let mut r = DriverRecord::new("707057500012345678", Utc::now());
        r.virtual_token = Some("v:0000000000000001".into());
        r
    }

    use EventName::*;

    #[test]
    fn activation_without_rfid_gets_the_virtual_token() {
        let mut r = record();
        assert_eq!(
            r.merge(ev("a", ContractActivated, 1, None, Some(1042)), Utc::now()),
            Merge::Applied
        );
        assert!(r.state.active);
        assert_eq!(r.state.site_id, Some(1042));
        assert_eq!(r.state.tokens.len(), 1);
        assert_eq!(r.state.tokens[0].kind, TokenKind::Virtual);
        assert!(r.state.tokens[0].active);
    }

    #[test]
    fn new_rfid_replaces_old_and_termination_deactivates_everything() {
        let mut r = record();
        r.merge(ev("a", ContractActivated, 1, Some("AAA"), None), Utc::now());
        r.merge(
            ev("b", ContractUpdated, 2, Some("BBB"), Some(7)),
            Utc::now(),
        );
        let active: Vec<_> = r
            .state
            .tokens
            .iter()
            .map(|t| (t.value.as_str(), t.active))
            .collect();
        assert_eq!(active, vec![("AAA", false), ("BBB", true)]);
        assert_eq!(r.state.site_id, Some(7));
        r.merge(ev("c", ContractTerminated, 3, None, None), Utc::now());
        assert!(!r.state.active);
        assert!(r.state.tokens.iter().all(|t| !t.active));
        assert_eq!(
            r.state.tokens.len(),
            2,
            "the record stays, tokens are only deactivated"
        );
    }

    #[test]
    fn reactivation_reactivates_the_token() {
        let mut r = record();
        r.merge(ev("a", ContractActivated, 1, Some("AAA"), None), Utc::now());
        r.merge(ev("b", ContractTerminated, 2, None, None), Utc::now());
        r.merge(ev("c", ContractActivated, 3, Some("AAA"), None), Utc::now());
        assert!(r.state.active);
        assert_eq!(r.state.tokens.len(), 1);
        assert!(r.state.tokens[0].active);
    }

    #[test]
    fn out_of_order_equals_in_order() {
        let events = [
            ev("a", ContractActivated, 1, Some("AAA"), None),
            ev("b", ContractUpdated, 2, Some("BBB"), Some(3)),
            ev("c", ContractTerminated, 3, None, None),
        ];
        let mut in_order = record();
        for e in &events {
            in_order.merge(e.clone(), Utc::now());
        }
        let mut shuffled = record();
        assert_eq!(
            shuffled.merge(events[2].clone(), Utc::now()),
            Merge::Applied
        );
        assert_eq!(shuffled.merge(events[0].clone(), Utc::now()), Merge::Stale);
        assert_eq!(shuffled.merge(events[1].clone(), Utc::now()), Merge::Stale);
        assert_eq!(
            shuffled.merge(events[1].clone(), Utc::now()),
            Merge::Duplicate
        );
        assert_eq!(shuffled.state, in_order.state);
    }

    #[test]
    fn update_for_unknown_driver_creates_it_active() {
        let mut r = record();
        r.merge(ev("u", ContractUpdated, 5, Some("CCC"), None), Utc::now());
        assert!(r.state.active);
        assert!(r.state.tokens[0].active);
    }

    fn received(r: &DriverRecord, token: &str) -> Option<String> {
        r.state
            .tokens
            .iter()
            .find(|t| t.value == token)
            .and_then(|t| t.received.as_ref())
            .map(|s| s.event_id.clone())
    }

    #[test]
    fn a_token_remembers_the_newest_event_that_carried_it_in_any_arrival_order() {
        let events = [
            ev("a", ContractActivated, 1, Some("AAA"), None),
            ev("b", ContractUpdated, 2, Some("BBB"), None),
            ev("c", ContractUpdated, 3, Some("AAA"), None),
            ev("d", ContractTerminated, 4, None, None),
            ev("e", ContractUpdated, 5, None, None),
        ];
        for order in [[0, 1, 2, 3, 4], [4, 2, 0, 3, 1], [2, 4, 1, 0, 3]] {
            let mut r = record();
            for i in order {
                r.merge(events[i].clone(), Utc::now());
            }
            assert_eq!(received(&r, "AAA").as_deref(), Some("c"), "{order:?}");
            assert_eq!(received(&r, "BBB").as_deref(), Some("b"), "{order:?}");
            assert_eq!(
                received(&r, "v:0000000000000001").as_deref(),
                Some("e"),
                "an event without RFID carries the virtual token"
            );
        }
    }

    #[test]
    fn compaction_keeps_what_each_token_received() {
        let mut r = record();
        let at = |i: u32| {
            Utc.timestamp_opt(1_700_000_000 + i64::from(i), 0)
                .single()
                .unwrap_or_default()
        };
        r.merge(
            AppliedEvent {
                event_time: at(0),
                ..ev("first", ContractActivated, 0, Some("OLD"), None)
            },
            Utc::now(),
        );
        for i in 1..(MAX_HISTORY as u32 + 5) {
            let e = AppliedEvent {
                event_time: at(i),
                ..ev(&format!("e{i:03}"), ContractUpdated, 0, Some("NEW"), None)
            };
            r.merge(e, Utc::now());
        }
        assert!(r.history.iter().all(|h| h.event_id != "first"));
        assert_eq!(received(&r, "OLD").as_deref(), Some("first"));
        assert_eq!(received(&r, "NEW").as_deref(), Some("e068"));
    }

    #[test]
    fn a_record_written_before_tokens_kept_what_they_received_still_reads() {
        let old = r#"{"externalId":"AP1","history":[],"createdAt":"2026-01-01T00:00:00Z",
            "updatedAt":"2026-01-01T00:00:00Z","state":{"active":true,
            "tokens":[{"value":"AAA","kind":"rfid","active":true}]}}"#;
        let r: DriverRecord = serde_json::from_str(old).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.state.tokens[0].received, None);
    }

    #[test]
    fn history_is_bounded_and_older_than_base_is_too_old() {
        let mut r = record();
        for i in 0..(MAX_HISTORY as u32 + 5) {
            let e = AppliedEvent {
                event_time: Utc
                    .timestamp_opt(1_700_000_000 + i64::from(i), 0)
                    .single()
                    .unwrap_or_default(),
                ..ev(&format!("e{i:03}"), ContractUpdated, 0, Some("AAA"), None)
            };
            r.merge(e, Utc::now());
        }
        assert_eq!(r.history.len(), MAX_HISTORY);
        let old = AppliedEvent {
            event_time: Utc
                .timestamp_opt(1_700_000_001, 0)
                .single()
                .unwrap_or_default(),
            ..ev("late", ContractTerminated, 0, None, None)
        };
        assert_eq!(r.merge(old, Utc::now()), Merge::TooOld);
        assert!(r.state.active);
    }
}

//! The home page and one's own sessions (list, end one, end the others).

use super::{
    Chrome, PageError, PageResult, ReferralRow, can_refer, chrome, render, see_other, stamp,
    zone_of,
};
use crate::auth::Authenticated;
use crate::http::extract::Id;
use crate::services::sessions::authorize_self;
use crate::{ApiError, AppState};
use askama::Template;
use axum::extract::State;
use enamel_policy::Action;
use enamel_store::{EndReason, ReferralBox};

#[derive(Template)]
#[template(path = "home.html")]
pub(super) struct HomePage {
    chrome: Chrome,
    name: String,
    role: &'static str,
    practice: Option<String>,
    mfa_enabled: bool,
    /// The care team's work: what waits for this office, in and out.
    work: Option<Work>,
}

/// The referrals that wait for the office, newest first (at most [`WORK_ROWS`] of
/// each; the lists have the rest).
pub(super) struct Work {
    received: Vec<ReferralRow>,
    received_more: usize,
    sent: Vec<ReferralRow>,
    sent_more: usize,
    not_responding: usize,
    unread: usize,
}

/// One box's share of the work, as the page lists it.
pub(super) struct WorkBox<'a> {
    heading: &'static str,
    which: &'static str,
    from_or_to: &'static str,
    rows: &'a [ReferralRow],
    more: usize,
}

impl Work {
    fn boxes(&self) -> [WorkBox<'_>; 2] {
        [
            WorkBox {
                heading: "Received by your office",
                which: "inbox",
                from_or_to: "From",
                rows: &self.received,
                more: self.received_more,
            },
            WorkBox {
                heading: "Sent by your office",
                which: "outbox",
                from_or_to: "To",
                rows: &self.sent,
                more: self.sent_more,
            },
        ]
    }
}

/// Rows of each kind the home page shows.
const WORK_ROWS: usize = 10;

/// What needs the office in its inbox and its outbox.
async fn work(state: &AppState, auth: &Authenticated) -> Result<Work, PageError> {
    let scoped = auth.scoped(&state.store);
    let zone = zone_of(state, auth).await;
    let waiting =
        |found: Vec<enamel_store::ReferralSummary>| -> (Vec<ReferralRow>, usize, usize, usize) {
            let flagged = found.iter().filter(|s| s.not_responding).count();
            let unread = found.iter().filter(|s| s.unread).count();
            let rows: Vec<ReferralRow> = found
                .iter()
                .filter(|s| s.needs_attention() || s.unread)
                .map(|s| ReferralRow::of(s, zone.as_ref()))
                .collect();
            let more = rows.len().saturating_sub(WORK_ROWS);
            (
                rows.into_iter().take(WORK_ROWS).collect(),
                more,
                flagged,
                unread,
            )
        };
    let (received, received_more, flagged_in, unread_in) =
        waiting(scoped.referrals(ReferralBox::Inbox, None, 200).await?);
    let (sent, sent_more, flagged_out, unread_out) =
        waiting(scoped.referrals(ReferralBox::Outbox, None, 200).await?);
    Ok(Work {
        received,
        received_more,
        sent,
        sent_more,
        not_responding: flagged_in + flagged_out,
        unread: unread_in + unread_out,
    })
}

pub(super) async fn home(State(state): State<AppState>, auth: Authenticated) -> PageResult {
    let user = auth.person()?;
    let practice = match user.practice {
        Some(_) => Some(
            auth.scoped(&state.store)
                .own_practice()
                .await?
                .name
                .as_str()
                .to_owned(),
        ),
        None => None,
    };
    let mfa_enabled = state
        .store
        .identity()
        .mfa(user)
        .await?
        .is_some_and(|m| m.confirmed);
    let work = if can_refer(user.role) {
        Some(work(&state, &auth).await?)
    } else {
        None
    };
    Ok(render(&HomePage {
        chrome: chrome(&state, Some(user)),
        name: user.display_name.as_str().to_owned(),
        role: user.role.label(),
        practice,
        mfa_enabled,
        work,
    }))
}

pub(super) struct SessionRow {
    id: String,
    created: String,
    last_seen: String,
    address: String,
    agent: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "sessions.html")]
pub(super) struct SessionsPage {
    chrome: Chrome,
    sessions: Vec<SessionRow>,
}

pub(super) async fn sessions_page(
    State(state): State<AppState>,
    auth: Authenticated,
) -> PageResult {
    let user = auth.person()?;
    authorize_self(&state, &auth, Action::SessionManage).await?;
    let sessions = state.store.identity().sessions_of(user.id).await?;
    let zone = zone_of(&state, &auth).await;
    let rows = sessions
        .into_iter()
        .map(|s| SessionRow {
            id: s.id.to_string(),
            created: stamp(s.created_at, zone.as_ref()),
            last_seen: stamp(s.last_seen_at, zone.as_ref()),
            address: s.ip_address.unwrap_or_default(),
            agent: s.user_agent.unwrap_or_default().chars().take(80).collect(),
            current: Some(s.id) == auth.session,
        })
        .collect();
    Ok(render(&SessionsPage {
        chrome: chrome(&state, Some(user)),
        sessions: rows,
    }))
}

pub(super) async fn end_session(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<uuid::Uuid>,
) -> PageResult {
    let user = auth.person()?;
    authorize_self(&state, &auth, Action::SessionManage).await?;
    if !crate::auth::end_session(&state, user, id, EndReason::Revoked, &auth.context).await? {
        return Err(ApiError::NotFound.into());
    }
    Ok(see_other(if Some(id) == auth.session {
        "/sign-in"
    } else {
        "/account/sessions"
    }))
}

pub(super) async fn end_other_sessions(
    State(state): State<AppState>,
    auth: Authenticated,
) -> PageResult {
    let user = auth.person()?;
    authorize_self(&state, &auth, Action::SessionManage).await?;
    for session in state.store.identity().sessions_of(user.id).await? {
        if Some(session.id) != auth.session {
            crate::auth::end_session(&state, user, session.id, EndReason::Revoked, &auth.context)
                .await?;
        }
    }
    Ok(see_other("/account/sessions"))
}

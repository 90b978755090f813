//! No-show recovery's waves (docs/no-show-recovery.md): the `recovery_wave` job of
//! one run. Each run of the job, as the practice's `no-show-recovery` agent with the
//! run's id as its correlation id:
//!
//! 1. ends the run if the slot is filled or withdrawn, or comes within the cutoff
//!    (then it expires), or the practice turned recovery off;
//! 2. sends the offers deferred to sending hours that are now due;
//! 3. when the next wave is due, matches the waitlist to the slot (the domain's
//!    pure ranking) and makes the best `wave_size` patients not offered it yet an
//!    offer each: sent by the channel they prefer, deferred outside sending hours,
//!    refused (and audited) when they cannot be reached, opted out, have had their
//!    three messages in 24 hours, or the channel's vendor has no BAA;
//! 4. queues itself for the next wave, or the next deferred offer, or the cutoff,
//!    whichever comes first. Waves come closer together as the slot nears.

use enamel_domain::recovery::{OpenSlot, offer_sms, rank};
use enamel_domain::{Channel, OfferId, Practice};
use enamel_integrations::opendental;
use enamel_store::{
    Decision, LinkedOffer, MessageText, NewOffer, Outbound, Reach, Recorded, RecoverySettings,
    RequestContext, Run, RunStatus, Scoped, Store, StoreError, WaveRun, recovery_actor,
};
use time::{Duration, OffsetDateTime};

use crate::jobs::deliver::{Senders, vendor_of};
use crate::jobs::pms_sync::{NotSynced, PmsClientSettings, client_for};
use crate::runtime::Ran;

/// How long an offer's link lasts at most (it ends sooner if the slot starts sooner).
pub const LINK_LIFETIME: Duration = Duration::hours(24);

/// What one run of the job did, for the logs and tests: counts only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WaveReport {
    pub sent: u32,
    pub deferred: u32,
    pub refused: u32,
    /// The run ended (filled, expired, withdrawn, or recovery off).
    pub ended: bool,
}

impl WaveReport {
    fn count(&mut self, recorded: Recorded) {
        match recorded {
            Recorded::Sent => self.sent += 1,
            Recorded::Deferred => self.deferred += 1,
            Recorded::Refused(_) => self.refused += 1,
        }
    }
}

/// Runs the job for `wave`: see the module.
pub async fn run(
    store: &Store,
    senders: &Senders,
    base_url: &str,
    wave: WaveRun,
) -> anyhow::Result<Ran> {
    match wave_once(store, senders, base_url, wave).await {
        Ok(report) => {
            tracing::info!(
                sent = report.sent,
                deferred = report.deferred,
                refused = report.refused,
                ended = report.ended,
                "a recovery wave ran"
            );
            Ok(Ran::Done)
        }
        // The practice's agreement ended or its keys are gone: nothing to retry.
        Err(StoreError::Denied | StoreError::Shredded | StoreError::NotFound) => Ok(Ran::Done),
        Err(err) => Err(anyhow::Error::new(err).context("running a recovery wave")),
    }
}

/// One run of the job, reporting what it did.
pub async fn wave_once(
    store: &Store,
    senders: &Senders,
    base_url: &str,
    wave: WaveRun,
) -> Result<WaveReport, StoreError> {
    let mut report = WaveReport::default();
    let (settings, agent) = store.recovery_settings_of(wave.practice).await?;
    let Some(agent) = agent else {
        report.ended = true;
        return Ok(report);
    };
    let actor = recovery_actor(agent, wave.practice);
    let scoped = store.scoped(&actor).with_context(RequestContext {
        correlation_id: Some(wave.run.as_uuid().simple().to_string()),
        ..RequestContext::default()
    });
    let run = scoped.recovery_run(wave.run).await?;
    if run.status != RunStatus::Open {
        report.ended = true;
        return Ok(report);
    }
    let now = store.now();
    let cutoff_at = run.starts_at - Duration::minutes(i64::from(settings.cutoff_minutes));
    if !settings.enabled || now >= cutoff_at {
        let reason = if settings.enabled {
            "too_near"
        } else {
            "recovery_off"
        };
        scoped
            .close_recovery_run(&run, settings.enabled, reason)
            .await?;
        report.ended = true;
        return Ok(report);
    }
    if scoped.recovery_slot_taken(&run).await? {
        scoped
            .close_recovery_run(&run, false, "filled_outside")
            .await?;
        report.ended = true;
        return Ok(report);
    }
    let practice = store.practices().get(wave.practice).await?;
    let sender = Sender {
        store,
        scoped: &scoped,
        senders,
        base_url,
        practice: &practice,
        settings: &settings,
        run: &run,
        now,
    };
    // Offers deferred to sending hours that are due now.
    let (due, later) = scoped.deferred_offers(&run, now).await?;
    if !due.is_empty() {
        let patients: Vec<_> = due.iter().map(|d| d.patient).collect();
        let reach = scoped.recovery_reach(&patients).await?;
        for offer in due {
            let found = reach.iter().find(|(p, _)| *p == offer.patient);
            let decision = sender
                .decide(offer.id, offer.patient, found.map(|(_, r)| r))
                .await?;
            let recorded = scoped
                .record_offer(
                    &run,
                    NewOffer {
                        id: offer.id,
                        patient: offer.patient,
                        entry: offer.entry,
                        moves: offer.moves,
                        wave: offer.wave,
                        decision,
                    },
                    true,
                )
                .await?;
            report.count(recorded);
        }
    }
    // A new wave, when one is due.
    let mut counted = false;
    let mut next_wave_at = run.next_wave_at;
    if run.next_wave_at.is_some_and(|at| at <= now) {
        let made = sender.new_wave(&mut report).await?;
        counted = made > 0;
        // Outside sending hours this wave's offers wait for the opening, and the
        // next wave comes an interval after it (no night of waves piling up).
        let from = settings.hours.next_open(&practice.time_zone, now);
        next_wave_at = Some(from + settings.interval(cutoff_at - from));
    }
    // The offers this wave deferred count too.
    let later = if counted {
        scoped.deferred_offers(&run, now).await?.1
    } else {
        later
    };
    let next_job = [next_wave_at, later, Some(cutoff_at)]
        .into_iter()
        .flatten()
        .filter(|at| *at > now)
        .min();
    scoped
        .finish_wave(&run, counted, next_wave_at, next_job)
        .await?;
    Ok(report)
}

/// What a wave needs to make offers.
struct Sender<'a> {
    store: &'a Store,
    scoped: &'a Scoped<'a>,
    senders: &'a Senders,
    base_url: &'a str,
    practice: &'a Practice,
    settings: &'a RecoverySettings,
    run: &'a Run,
    now: OffsetDateTime,
}

impl Sender<'_> {
    /// Matches the waitlist to the slot and offers it to the best patients not
    /// offered it yet; returns how many offers it recorded.
    async fn new_wave(&self, report: &mut WaveReport) -> Result<usize, StoreError> {
        let (candidates, moves) = self.scoped.recovery_candidates(self.run, self.now).await?;
        let slot = OpenSlot {
            provider: self.run.provider,
            kind: self.run.kind,
            local_start: self.practice.time_zone.local(self.run.starts_at),
            starts_at: self.run.starts_at,
            length: self.run.duration,
        };
        // One offer per patient per run, whichever of their entries ranks first.
        let mut ranked: Vec<&enamel_domain::recovery::Candidate> = Vec::new();
        for candidate in rank(&slot, &candidates) {
            if !ranked.iter().any(|c| c.patient == candidate.patient) {
                ranked.push(candidate);
            }
        }
        // A patient who cannot be reached does not take a place in the wave: the
        // next ones are tried, up to three times the wave's size in all.
        let size = usize::try_from(self.settings.wave_size).unwrap_or(10);
        let wave = self.run.waves + 1;
        let (mut placed, mut tried) = (0, 0);
        while placed < size && tried < ranked.len() && tried < 3 * size {
            let batch = &ranked[tried..(tried + size - placed).min(ranked.len())];
            tried += batch.len();
            let patients: Vec<_> = batch.iter().map(|c| c.patient).collect();
            let reach = self.scoped.recovery_reach(&patients).await?;
            for candidate in batch {
                let id = OfferId::generate();
                let found = reach.iter().find(|(p, _)| *p == candidate.patient);
                let decision = self
                    .decide(id, candidate.patient, found.map(|(_, r)| r))
                    .await?;
                let recorded = self
                    .scoped
                    .record_offer(
                        self.run,
                        NewOffer {
                            id,
                            patient: candidate.patient,
                            entry: candidate.entry,
                            moves: moves.get(&candidate.entry).copied(),
                            wave,
                            decision,
                        },
                        false,
                    )
                    .await?;
                report.count(recorded);
                if recorded == Recorded::Refused("run_closed") {
                    // Booked or withdrawn meanwhile: this wave is over.
                    return Ok(tried);
                }
                if !matches!(recorded, Recorded::Refused(_)) {
                    placed += 1;
                }
            }
        }
        Ok(tried)
    }

    /// Whether the vendor that `channel` goes through (if this worker knows it)
    /// has an executed BAA; a refusal is audited by the gate.
    async fn baa_allows(
        &self,
        channel: Channel,
        offer: OfferId,
        patient: enamel_domain::PatientId,
    ) -> Result<bool, StoreError> {
        let Some(vendor) = vendor_of(self.senders, channel) else {
            return Ok(true);
        };
        match self
            .scoped
            .require_baa(
                &vendor,
                Outbound {
                    purpose: "recovery_offer",
                    resource: enamel_audit::entry::ResourceType::Appointment,
                    resource_id: Some(offer.to_string()),
                    patient: Some(patient),
                },
            )
            .await
        {
            Ok(()) => Ok(true),
            Err(StoreError::NoBaa(_)) => Ok(false),
            Err(other) => Err(other),
        }
    }

    /// How to make one offer: by which channel, now or later, or not at all.
    async fn decide(
        &self,
        offer: OfferId,
        patient: enamel_domain::PatientId,
        reach: Option<&Reach>,
    ) -> Result<Decision, StoreError> {
        let Some(reach) = reach else {
            return Ok(Decision::Refuse {
                reason: "no_contact",
            });
        };
        // A patient who revoked consent (STOP, QUIT, END, REVOKE, OPT OUT, CANCEL,
        // UNSUBSCRIBE) gets no offer by any channel: an offer is marketing of an
        // opening, not a message about their care they asked for.
        if reach.opted_out {
            return Ok(Decision::Refuse {
                reason: "opted_out",
            });
        }
        let channels = reach.channels();
        if channels.is_empty() {
            return Ok(Decision::Refuse {
                reason: if reach.opted_out {
                    "opted_out"
                } else {
                    "no_contact"
                },
            });
        }
        // The gate at offer time, so the office sees why; the delivery checks again.
        // A channel whose vendor has no BAA gives way to the patient's other one.
        let mut usable = None;
        for channel in channels {
            if self.baa_allows(channel, offer, patient).await? {
                usable = Some(channel);
                break;
            }
        }
        let Some(channel) = usable else {
            return Ok(Decision::Refuse {
                reason: "no_executed_baa",
            });
        };
        // Patients have no time zone of their own in Enamel: the practice's.
        let open = self
            .settings
            .hours
            .next_open(&self.practice.time_zone, self.now);
        if open > self.now {
            return Ok(Decision::Defer {
                channel,
                due_at: open,
            });
        }
        let expires_at = (self.now + LINK_LIFETIME).min(self.run.starts_at);
        let token = self
            .store
            .sign_offer(offer, self.run.id, expires_at)
            .await?;
        let link = format!("{}/o/{token}", self.base_url.trim_end_matches('/'));
        let local_start = self.practice.time_zone.local(self.run.starts_at);
        let name = self.practice.name.as_str();
        let (recipient, text) = if channel == Channel::Sms {
            let Some(body) = offer_sms("", name, local_start, &link) else {
                return Ok(Decision::Refuse {
                    reason: "message_too_long",
                });
            };
            let phone = reach.phone.as_ref().map(|p| p.expose().e164().to_owned());
            (
                phone.unwrap_or_default(),
                MessageText {
                    subject: String::new(),
                    body,
                },
            )
        } else {
            let email = reach.email.as_ref().map(|e| e.expose().as_str().to_owned());
            (
                email.unwrap_or_default(),
                offer_email(name, local_start, &link),
            )
        };
        Ok(Decision::Send {
            channel,
            recipient: enamel_domain::Phi::new(recipient),
            text,
            expires_at,
        })
    }
}

/// The email offering a slot: the practice, the day and time, the link; no name,
/// no procedure, no provider.
#[must_use]
pub fn offer_email(
    practice: &str,
    local_start: time::PrimitiveDateTime,
    link: &str,
) -> MessageText {
    let format = time::macros::format_description!(
        "[weekday] [month repr:long] [day padding:none] at [hour repr:12 padding:none]:[minute] [period]"
    );
    let when = local_start
        .format(&format)
        .unwrap_or_else(|_| local_start.to_string());
    MessageText {
        subject: format!("An earlier appointment is open at {practice}"),
        body: format!(
            "{practice} has an opening on {when}, and you are on its list for an earlier \
             visit.\n\nTo take it, open this link and press \"Book this time\" (the first \
             person to book it gets it):\n{link}\n\nIf it does not suit you, you can say so \
             on the same page, and you stay on the list.\n"
        ),
    }
}

/// Before a booking, for a practice on Open Dental: whether the slot is still free
/// there (its chair's appointments that day, read again). `true` when the practice
/// is not connected, or the slot has no chair to look in. A slot Open Dental cannot
/// be asked about now is taken to be free: Enamel's own booking still holds it
/// against every other offer, and the write-back reports a clash.
pub async fn slot_free_in_pms(
    store: &Store,
    settings: &PmsClientSettings,
    linked: &LinkedOffer,
) -> Result<bool, StoreError> {
    let client = match client_for(store, settings, linked.practice).await {
        Ok((client, _)) => client,
        Err(NotSynced::Store(err)) => return Err(err),
        Err(_) => return Ok(true),
    };
    let Some(slot) = store.recovery_slot_in_pms(linked).await? else {
        return Ok(true);
    };
    let Some(operatory) = slot.operatory else {
        return Ok(true);
    };
    match client.appointments_on(slot.from.date(), &operatory).await {
        Ok(items) => Ok(!items.iter().any(|item| {
            let own = opendental::text(item, "AptNum").is_some_and(|n| slot.own.contains(&n));
            !own && opendental::holds(item, slot.from, slot.to)
        })),
        Err(err) => {
            tracing::warn!(error = %err.code(), "Open Dental could not be asked about a slot");
            Ok(true)
        }
    }
}

/// The `recovery_writeback` job: writes a filled run's booking back to Open Dental,
/// as the practice's `pms-sync` agent behind the BAA gate. The booked visit is
/// moved into the slot there (back on the schedule, for one from the unscheduled
/// list); a visit Open Dental does not have (an entry added in Enamel) is
/// recorded `not_in_pms`, for the office to enter by hand. A vendor's failure is
/// retried by the queue, and its code recorded on the run.
pub async fn write_back(
    store: &Store,
    settings: &PmsClientSettings,
    wave: WaveRun,
) -> anyhow::Result<Ran> {
    let (client, actor) = match client_for(store, settings, wave.practice).await {
        Ok(found) => found,
        Err(NotSynced::Store(err)) => return Err(err.into()),
        Err(err) => {
            tracing::warn!(code = %err.code(), "a booking could not be written back to the PMS");
            return Ok(Ran::Done);
        }
    };
    let scoped = store.scoped(&actor).with_context(RequestContext {
        correlation_id: Some(wave.run.as_uuid().simple().to_string()),
        ..RequestContext::default()
    });
    let Some(booking) = scoped.recovery_booking_for_pms(wave.run).await? else {
        return Ok(Ran::Done);
    };
    let Some(appointment) = booking.appointment else {
        scoped
            .set_recovery_writeback(wave.run, "not_in_pms")
            .await?;
        return Ok(Ran::Done);
    };
    match scoped
        .require_baa(
            client.vendor(),
            Outbound {
                purpose: "pms_write_back",
                resource: enamel_audit::entry::ResourceType::Appointment,
                resource_id: Some(wave.run.to_string()),
                patient: None,
            },
        )
        .await
    {
        Ok(()) => {}
        Err(StoreError::NoBaa(_)) => {
            scoped
                .set_recovery_writeback(wave.run, "no_executed_baa")
                .await?;
            return Ok(Ran::Done);
        }
        Err(err) => return Err(err.into()),
    }
    match client
        .move_appointment(
            &appointment,
            booking.local_start,
            booking.operatory.as_deref(),
            Some(&booking.provider),
        )
        .await
    {
        Ok(()) => {
            scoped.set_recovery_writeback(wave.run, "done").await?;
            Ok(Ran::Done)
        }
        Err(err) => {
            let code = err.code();
            scoped.set_recovery_writeback(wave.run, &code).await?;
            Ok(Ran::Retry(code))
        }
    }
}

//! Which errors librdkafka reports stop a table or a sink.
//!
//! librdkafka retries transport errors (a broker down, a timeout) by itself
//! and reports them only as news; those leave the table running. Errors that
//! no retry can cure (the credentials, the ACLs, a topic that does not exist
//! and is not auto-created) fail the table at once with the error and a hint,
//! instead of a warning repeated in a log nobody reads.
//!
//! librdkafka reports some of them (a refused login) not with a message but
//! to the client's context; [`FatalErrorSlot`] keeps the first for the code
//! that drives the client.

use std::sync::{Mutex, PoisonError};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// A hint for a consumer error that retrying cannot cure, or `None` when
/// librdkafka goes on by itself.
pub(crate) fn fatal_hint(code: RDKafkaErrorCode) -> Option<&'static str> {
    use RDKafkaErrorCode as C;
    Some(match code {
        C::TopicAuthorizationFailed
        | C::GroupAuthorizationFailed
        | C::ClusterAuthorizationFailed => {
            "the principal is not authorized; check the broker's ACLs for it"
        }
        C::SaslAuthenticationFailed | C::Authentication => {
            "authentication failed; check the sasl.* and ssl.* properties"
        }
        C::SSL => TLS_HINT,
        C::UnknownTopicOrPartition | C::UnknownTopic => {
            "the topic does not exist and the broker does not create it; create it first"
        }
        C::Fatal => "librdkafka stopped the consumer",
        _ => return None,
    })
}

const TLS_HINT: &str = "the TLS handshake failed; check the ssl.* properties \
                        (ssl.ca.location, ssl.certificate.location, ssl.key.location)";

/// Whether a transport failure is the broker refusing the TLS handshake
/// with an alert (no or a bad client certificate, an unknown CA). Under TLS
/// 1.3 the client learns it only on its first read, so librdkafka reports
/// a broker transport failure, which it would retry forever.
fn refused_by_tls_alert(reason: &str) -> bool {
    reason.contains("SSL routines") && reason.contains("SSL alert number")
}

/// The table's failure message for a fatal consumer error.
pub(crate) fn fatal_message(error: &impl std::fmt::Display, hint: &str) -> String {
    format!("kafka: {error} ({hint})")
}

/// The first error no retry cures that librdkafka reported to a client's
/// context (`ClientContext::error`).
#[derive(Debug, Default)]
pub(crate) struct FatalErrorSlot(Mutex<Option<String>>);

impl FatalErrorSlot {
    /// Logs a client error as rdkafka does by default, and keeps it when no
    /// retry cures it.
    pub(crate) fn report(&self, error: &KafkaError, reason: &str) {
        tracing::error!("librdkafka: {error}: {reason}");
        let hint = error
            .rdkafka_error_code()
            .and_then(fatal_hint)
            .or_else(|| refused_by_tls_alert(reason).then_some(TLS_HINT));
        if let Some(hint) = hint {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get_or_insert_with(|| fatal_message(&reason, hint));
        }
    }

    /// The kept error, as a failure message.
    pub(crate) fn get(&self) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The kept error, forgetting it: for a client that goes on (a sink under
    /// `on_failure = "retry"` must see whether the next attempt fails again).
    pub(crate) fn take(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_errors_no_retry_cures_are_fatal() {
        for code in [
            RDKafkaErrorCode::TopicAuthorizationFailed,
            RDKafkaErrorCode::GroupAuthorizationFailed,
            RDKafkaErrorCode::SaslAuthenticationFailed,
            RDKafkaErrorCode::Authentication,
            RDKafkaErrorCode::UnknownTopicOrPartition,
            RDKafkaErrorCode::UnknownTopic,
        ] {
            assert!(fatal_hint(code).is_some(), "{code:?}");
        }
        for code in [
            RDKafkaErrorCode::AllBrokersDown,
            RDKafkaErrorCode::BrokerTransportFailure,
            RDKafkaErrorCode::RequestTimedOut,
            RDKafkaErrorCode::NotLeaderForPartition,
            RDKafkaErrorCode::PartitionEOF,
        ] {
            assert!(fatal_hint(code).is_none(), "{code:?}");
        }
    }

    #[test]
    fn a_tls_alert_is_fatal_and_a_plain_transport_failure_is_not() {
        let transport = KafkaError::Global(RDKafkaErrorCode::BrokerTransportFailure);
        let slot = FatalErrorSlot::default();
        slot.report(&transport, "ssl://b:9093/bootstrap: Connection refused");
        assert_eq!(slot.get(), None);
        slot.report(
            &transport,
            "ssl://b:9093/bootstrap: Receive failed: error:0A00045C:SSL routines::tlsv13 alert \
             certificate required: SSL alert number 116",
        );
        assert!(slot.get().unwrap().contains("TLS handshake failed"));
        assert_eq!(fatal_hint(RDKafkaErrorCode::SSL), Some(TLS_HINT));
    }

    #[test]
    fn the_slot_keeps_the_first_fatal_error_until_taken() {
        let slot = FatalErrorSlot::default();
        slot.report(
            &KafkaError::Global(RDKafkaErrorCode::AllBrokersDown),
            "1/1 brokers are down",
        );
        assert_eq!(slot.get(), None, "librdkafka retries that by itself");
        slot.report(
            &KafkaError::Global(RDKafkaErrorCode::Authentication),
            "SASL SCRAM authentication failed",
        );
        slot.report(
            &KafkaError::Global(RDKafkaErrorCode::TopicAuthorizationFailed),
            "later",
        );
        let kept = slot.get().unwrap();
        assert!(
            kept.starts_with("kafka: SASL SCRAM authentication failed (authentication failed"),
            "{kept}"
        );
        assert_eq!(slot.take(), Some(kept));
        assert_eq!(slot.get(), None, "a retry starts afresh");
    }
}

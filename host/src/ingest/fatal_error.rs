//! Which errors librdkafka reports while consuming stop a table.
//!
//! librdkafka retries transport errors (a broker down, a timeout) by itself
//! and reports them only as news; those leave the table running. Errors that
//! no retry can cure (the credentials, the ACLs, a topic that does not exist
//! and is not auto-created) fail the table at once with the error and a hint,
//! instead of a warning repeated in a log nobody reads.

use rdkafka::error::RDKafkaErrorCode;

/// A hint for a consumer error that retrying cannot cure, or `None` when
/// librdkafka goes on by itself.
pub(super) fn fatal_hint(code: RDKafkaErrorCode) -> Option<&'static str> {
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
        C::UnknownTopicOrPartition | C::UnknownTopic => {
            "the topic does not exist and the broker does not create it; create it first"
        }
        C::Fatal => "librdkafka stopped the consumer",
        _ => return None,
    })
}

/// The table's failure message for a fatal consumer error.
pub(super) fn fatal_message(error: &impl std::fmt::Display, hint: &str) -> String {
    format!("kafka: {error} ({hint})")
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
}

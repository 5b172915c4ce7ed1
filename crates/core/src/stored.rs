//! Names the database stores as `text`: each enum's one mapping is its `as_str` and `FromStr`
//! pair, and with the `sqlx` feature [`pg_text!`] makes that pair its Postgres encoding, so a
//! status or scheme is written and read in exactly one place.

use std::fmt;
use std::str::FromStr;

use crate::provider::Provider;
use crate::signing::{Scheme, SignatureStatus};

/// Makes a type with `as_str` and `FromStr` a Postgres `text` value (with the `sqlx` feature).
macro_rules! pg_text {
    ($($t:ty),* $(,)?) => {$(
        #[cfg(feature = "sqlx")]
        impl sqlx::Type<sqlx::Postgres> for $t {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <str as sqlx::Type<sqlx::Postgres>>::type_info()
            }

            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }

        #[cfg(feature = "sqlx")]
        impl sqlx::postgres::PgHasArrayType for $t {
            fn array_type_info() -> sqlx::postgres::PgTypeInfo {
                <&str as sqlx::postgres::PgHasArrayType>::array_type_info()
            }
        }

        #[cfg(feature = "sqlx")]
        impl<'q> sqlx::Encode<'q, sqlx::Postgres> for $t {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<'q, sqlx::Postgres>>::encode(self.as_str(), buf)
            }
        }

        #[cfg(feature = "sqlx")]
        impl<'r> sqlx::Decode<'r, sqlx::Postgres> for $t {
            fn decode(
                value: sqlx::postgres::PgValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&str as sqlx::Decode<'r, sqlx::Postgres>>::decode(value)?;
                text.parse::<$t>().map_err(|e| e.to_string().into())
            }
        }
    )*};
}

pg_text!(
    Scheme,
    SignatureStatus,
    Provider,
    ReplayStatus,
    AuditStatus,
    BillingEventStatus
);

/// A stored name that no variant has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {name:?}")]
pub struct UnknownName {
    pub kind: &'static str,
    pub name: String,
}

/// Where a replay is in its life (`replays.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplayStatus {
    /// Waiting for a worker (also between retries).
    Queued,
    /// A worker is sending it.
    Running,
    /// The last attempt got a 2xx.
    Succeeded,
    /// No attempt got a 2xx and none remain.
    Failed,
}

impl ReplayStatus {
    /// Every status.
    pub const ALL: [ReplayStatus; 4] = [
        ReplayStatus::Queued,
        ReplayStatus::Running,
        ReplayStatus::Succeeded,
        ReplayStatus::Failed,
    ];

    /// The stored (and API) name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReplayStatus::Queued => "queued",
            ReplayStatus::Running => "running",
            ReplayStatus::Succeeded => "succeeded",
            ReplayStatus::Failed => "failed",
        }
    }

    /// True for `succeeded` and `failed`.
    pub fn is_finished(self) -> bool {
        matches!(self, ReplayStatus::Succeeded | ReplayStatus::Failed)
    }
}

/// The state of a handler audit (`audits.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditStatus {
    /// Its probes are being sent.
    Running,
    /// Every must-pass probe passed.
    Passed,
    /// A must-pass probe failed.
    Failed,
    /// It could not run to the end (the reason is in its `error`).
    Error,
}

impl AuditStatus {
    /// Every status.
    pub const ALL: [AuditStatus; 4] = [
        AuditStatus::Running,
        AuditStatus::Passed,
        AuditStatus::Failed,
        AuditStatus::Error,
    ];

    /// The stored (and API) name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditStatus::Running => "running",
            AuditStatus::Passed => "passed",
            AuditStatus::Failed => "failed",
            AuditStatus::Error => "error",
        }
    }
}

/// Where a received Stripe event is in the billing job (`billing_events.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BillingEventStatus {
    /// Waiting for the job (also between retries).
    Pending,
    /// Applied.
    Done,
    /// A type the job does not act on, acknowledged.
    Ignored,
    /// Given up after the last retry.
    Failed,
}

impl BillingEventStatus {
    /// Every status.
    pub const ALL: [BillingEventStatus; 4] = [
        BillingEventStatus::Pending,
        BillingEventStatus::Done,
        BillingEventStatus::Ignored,
        BillingEventStatus::Failed,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            BillingEventStatus::Pending => "pending",
            BillingEventStatus::Done => "done",
            BillingEventStatus::Ignored => "ignored",
            BillingEventStatus::Failed => "failed",
        }
    }
}

macro_rules! named {
    ($($t:ident = $kind:literal),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $t {
            type Err = UnknownName;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $t::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| UnknownName { kind: $kind, name: s.to_owned() })
            }
        }

        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }

        /// In the OpenAPI document: a string, one of the stored names.
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $t {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some($t::ALL.iter().map(|v| v.as_str())))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $t {}
    )*};
}

named!(
    ReplayStatus = "replay status",
    AuditStatus = "audit status",
    BillingEventStatus = "billing event status"
);

impl FromStr for SignatureStatus {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SignatureStatus::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownName {
                kind: "signature status",
                name: s.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant's stored text reads back as the same variant.
    fn round_trips<T: Copy + PartialEq + fmt::Debug + FromStr>(
        all: &[T],
        text: fn(T) -> &'static str,
    ) where
        T::Err: fmt::Debug,
    {
        for &v in all {
            assert_eq!(text(v).parse::<T>().unwrap(), v, "{}", text(v));
        }
    }

    #[test]
    fn every_stored_name_reads_back_as_its_variant() {
        round_trips(&ReplayStatus::ALL, ReplayStatus::as_str);
        round_trips(&AuditStatus::ALL, AuditStatus::as_str);
        round_trips(&Scheme::ALL, Scheme::as_str);
        round_trips(&SignatureStatus::ALL, SignatureStatus::as_str);
        round_trips(&Provider::ALL, Provider::as_str);
        assert!("Queued".parse::<ReplayStatus>().is_err());
        assert!("done".parse::<AuditStatus>().is_err());
    }

    #[test]
    fn statuses_are_written_to_json_as_their_stored_names() {
        assert_eq!(
            serde_json::to_string(&ReplayStatus::Succeeded).unwrap(),
            "\"succeeded\""
        );
        assert_eq!(
            serde_json::to_string(&AuditStatus::Error).unwrap(),
            "\"error\""
        );
        let back: AuditStatus = serde_json::from_str("\"passed\"").unwrap();
        assert_eq!(back, AuditStatus::Passed);
    }
}

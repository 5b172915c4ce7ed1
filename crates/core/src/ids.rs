//! One id type per kind of row, so an endpoint's id cannot be passed where a capture's is
//! expected. Each is a `Uuid` underneath: serde writes it as the bare UUID string, `Display`
//! and `FromStr` use the hyphenated form, and with the `sqlx` feature (the store turns it on)
//! it is a Postgres `uuid` column (`#[sqlx(transparent)]`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_kinds {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
        pub struct $name(Uuid);

        impl $name {
            /// A new random (v4) id.
            pub fn new_v4() -> Self {
                Self(Uuid::new_v4())
            }

            /// A new time-ordered (v7) id.
            pub fn now_v7() -> Self {
                Self(Uuid::now_v7())
            }

            /// The UUID underneath.
            pub const fn into_uuid(self) -> Uuid {
                self.0
            }

            /// The UUID underneath, by reference.
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }

            /// The 16 bytes (the associated data a secret sealed for this row is bound to).
            pub const fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }

            /// The all-zero id (a placeholder that no row has).
            pub const fn nil() -> Self {
                Self(Uuid::nil())
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::from_str(s).map(Self)
            }
        }
    )*};
}

id_kinds! {
    /// An account (`users`).
    UserId;
    /// An endpoint (`endpoints`).
    EndpointId;
    /// A captured request (`requests`).
    RequestId;
    /// A replay job (`replays`).
    ReplayId;
    /// A bulk replay's batch (`replays.batch_id`).
    BatchId;
    /// A saved replay target (`replay_targets`).
    TargetId;
    /// An API token (`api_tokens`).
    TokenId;
    /// A handler audit run (`audits`).
    AuditId;
    /// A connected `hookvault listen` stream (`cli_sessions`).
    CliSessionId;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_reads_and_writes_as_its_bare_uuid() {
        let uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0001);
        let id = EndpointId::from(uuid);
        assert_eq!(id.to_string(), uuid.to_string());
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{uuid}\""));
        assert_eq!(
            serde_json::from_str::<EndpointId>(&format!("\"{uuid}\"")).unwrap(),
            id
        );
        assert_eq!(id.to_string().parse::<EndpointId>().unwrap(), id);
        assert_eq!(id.into_uuid(), uuid);
        assert!("not-a-uuid".parse::<EndpointId>().is_err());
    }
}

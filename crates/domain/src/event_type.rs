//! The 54 known event types: Hanko's 42 and the 12 that only the passkey server has.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! audit_log_types {
    ($($variant:ident => $name:literal,)*) => {
        /// The type of an audit log entry; its wire form is the exact snake_case name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum AuditLogType {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )*
        }

        impl AuditLogType {
            /// Every known type, in the order Hanko and then the passkey server list them.
            pub const ALL: &'static [AuditLogType] = &[$(AuditLogType::$variant,)*];

            /// The exact snake_case name, as stored and as sent over the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(AuditLogType::$variant => $name,)*
                }
            }
        }

        impl FromStr for AuditLogType {
            type Err = UnknownAuditLogType;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok(AuditLogType::$variant),)*
                    _ => Err(UnknownAuditLogType(s.to_owned())),
                }
            }
        }
    };
}

audit_log_types! {
    UserLoggedOut => "user_logged_out",
    ThirdpartySignupSucceeded => "thirdparty_signup_succeeded",
    ThirdpartySigninSucceeded => "thirdparty_signin_succeeded",
    ThirdpartyLinkingSucceeded => "thirdparty_linking_succeeded",
    ThirdpartySigninSignupFailed => "thirdparty_signin_signup_failed",
    UserCreated => "user_created",
    EmailCreated => "email_created",
    EmailVerified => "email_verified",
    EmailDeleted => "email_deleted",
    PrimaryEmailChanged => "primary_email_changed",
    UserDeleted => "user_deleted",
    LoginSuccess => "login_success",
    LoginFailure => "login_failure",
    OtpCreated => "otp_created",
    PasskeyCreated => "passkey_created",
    PasskeyDeleted => "passkey_deleted",
    SecurityKeyCreated => "security_key_created",
    SecurityNotificationSent => "security_notification_sent",
    UsernameChanged => "username_changed",
    UsernameDeleted => "username_deleted",
    PasswordChanged => "password_changed",
    PasswordDeleted => "password_deleted",
    PasswordSetSucceeded => "password_set_succeeded",
    PasswordSetFailed => "password_set_failed",
    PasswordLoginSucceeded => "password_login_succeeded",
    PasswordLoginFailed => "password_login_failed",
    PasscodeLoginInitSucceeded => "passcode_login_init_succeeded",
    PasscodeLoginInitFailed => "passcode_login_init_failed",
    PasscodeLoginFinalSucceeded => "passcode_login_final_succeeded",
    PasscodeLoginFinalFailed => "passcode_login_final_failed",
    WebauthnRegistrationInitSucceeded => "webauthn_registration_init_succeeded",
    WebauthnRegistrationInitFailed => "webauthn_registration_init_failed",
    WebauthnRegistrationFinalSucceeded => "webauthn_registration_final_succeeded",
    WebauthnRegistrationFinalFailed => "webauthn_registration_final_failed",
    WebauthnAuthenticationInitSucceeded => "webauthn_authentication_init_succeeded",
    WebauthnAuthenticationInitFailed => "webauthn_authentication_init_failed",
    WebauthnAuthenticationFinalSucceeded => "webauthn_authentication_final_succeeded",
    WebauthnAuthenticationFinalFailed => "webauthn_authentication_final_failed",
    WebauthnCredentialUpdated => "webauthn_credential_updated",
    WebauthnCredentialDeleted => "webauthn_credential_deleted",
    TokenExchangeSucceeded => "token_exchange_succeeded",
    TokenExchangeFailed => "token_exchange_failed",
    WebauthnTransactionInitSucceeded => "webauthn_transaction_init_succeeded",
    WebauthnTransactionInitFailed => "webauthn_transaction_init_failed",
    WebauthnTransactionFinalSucceeded => "webauthn_transaction_final_succeeded",
    WebauthnTransactionFinalFailed => "webauthn_transaction_final_failed",
    MfaRegistrationInitSucceeded => "mfa_registration_init_succeeded",
    MfaRegistrationInitFailed => "mfa_registration_init_failed",
    MfaRegistrationFinalSucceeded => "mfa_registration_final_succeeded",
    MfaRegistrationFinalFailed => "mfa_registration_final_failed",
    MfaAuthenticationInitSucceeded => "mfa_authentication_init_succeeded",
    MfaAuthenticationInitFailed => "mfa_authentication_init_failed",
    MfaAuthenticationFinalSucceeded => "mfa_authentication_final_succeeded",
    MfaAuthenticationFinalFailed => "mfa_authentication_final_failed",
}

impl AuditLogType {
    /// Whether this type records a failure (its name ends in `_failed` or `_failure`).
    pub fn is_failure(self) -> bool {
        let name = self.as_str();
        name.ends_with("_failed") || name.ends_with("_failure")
    }
}

/// A name that is not one of the known types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown audit log type '{0}'")]
pub struct UnknownAuditLogType(pub String);

impl fmt::Display for AuditLogType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for AuditLogType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AuditLogType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for AuditLogType {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("The type of an audit log entry."))
            .enum_values(Some(AuditLogType::ALL.iter().map(|t| t.as_str())))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for AuditLogType {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_are_54_distinct_types_that_round_trip() {
        assert_eq!(AuditLogType::ALL.len(), 54);
        let names: std::collections::BTreeSet<_> =
            AuditLogType::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(names.len(), 54);
        for t in AuditLogType::ALL {
            assert_eq!(t.as_str().parse::<AuditLogType>(), Ok(*t));
            assert_eq!(t.to_string(), t.as_str());
            let json = serde_json::to_string(t).expect("serialises");
            assert_eq!(json, format!("\"{}\"", t.as_str()));
            assert_eq!(
                serde_json::from_str::<AuditLogType>(&json).expect("parses"),
                *t
            );
        }
    }

    #[test]
    fn names_are_exact() {
        assert_eq!(AuditLogType::LoginSuccess.as_str(), "login_success");
        assert_eq!(
            AuditLogType::MfaAuthenticationFinalFailed.as_str(),
            "mfa_authentication_final_failed"
        );
        assert!("Login_Success".parse::<AuditLogType>().is_err());
        assert!(" login_success".parse::<AuditLogType>().is_err());
        assert!(AuditLogType::LoginFailure.is_failure());
        assert!(!AuditLogType::UserCreated.is_failure());
    }
}

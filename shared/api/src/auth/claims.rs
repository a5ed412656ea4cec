//! Verified claims → [`Caller`]: the same rules whether the claims come from a JWT checked
//! here or from API Gateway's Cognito authorizer.

use order_domain::{CustomerId, Email};
use serde_json::{Map, Value};

use super::{Caller, Invalid};

/// The group whose members are operators.
pub const ADMIN_GROUP: &str = "admin";

/// The claim that lists a Cognito user's groups.
pub const GROUPS_CLAIM: &str = "cognito:groups";

/// Whether `cognito:groups` names the admin group. In a JWT it is an array; API Gateway's REST
/// authorizer flattens every claim to a string, seen as `"admin"`, `"[admin other]"` or
/// `"admin,other"`.
pub fn is_admin(groups: Option<&Value>) -> bool {
    match groups {
        Some(Value::Array(list)) => list.iter().any(|g| g.as_str() == Some(ADMIN_GROUP)),
        Some(Value::String(text)) => text
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split(|c: char| c == ',' || c.is_whitespace())
            .any(|g| g.trim_matches('"') == ADMIN_GROUP),
        _ => false,
    }
}

/// The caller of verified claims: `sub` must be a valid customer id; an `email` claim that is
/// not a valid address is treated as absent (the body may still give one).
pub fn caller(claims: &Map<String, Value>) -> Result<Caller, Invalid> {
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .ok_or(Invalid::Subject)?;
    let customer = CustomerId::parse(sub).map_err(|_| Invalid::Subject)?;
    let email = claims
        .get("email")
        .and_then(Value::as_str)
        .and_then(|e| Email::parse(e).ok());
    Ok(Caller {
        customer,
        email,
        admin: is_admin(claims.get(GROUPS_CLAIM)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn admin_is_found_in_an_array_and_in_the_gateway_s_string_forms() {
        for yes in [
            json!(["admin"]),
            json!(["other", "admin"]),
            json!("admin"),
            json!("[admin other]"),
            json!("[other admin]"),
            json!("admin,other"),
            json!("other, admin"),
            json!("[\"admin\"]"),
        ] {
            assert!(is_admin(Some(&yes)), "{yes}");
        }
        for no in [
            json!([]),
            json!(["administrators"]),
            json!("administrators"),
            json!("[notadmin]"),
            json!(""),
            json!(true),
            json!({ "admin": true }),
        ] {
            assert!(!is_admin(Some(&no)), "{no}");
        }
        assert!(!is_admin(None));
    }

    #[test]
    fn the_caller_is_the_subject_with_its_email_if_valid() {
        let c = caller(
            json!({ "sub": "c-1", "email": "a@example.com" })
                .as_object()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(c.customer.as_str(), "c-1");
        assert_eq!(c.email.unwrap().as_str(), "a@example.com");
        assert!(!c.admin);
        let c = caller(
            json!({ "sub": "c-1", "email": "nope" })
                .as_object()
                .unwrap(),
        )
        .unwrap();
        assert!(c.email.is_none());
        for bad in [
            json!({}),
            json!({ "sub": "" }),
            json!({ "sub": 7 }),
            json!({ "sub": " x" }),
        ] {
            assert!(
                matches!(caller(bad.as_object().unwrap()), Err(Invalid::Subject)),
                "{bad}"
            );
        }
    }
}

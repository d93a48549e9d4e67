//! `[aws]`: the region, the endpoint, and the accounts warroom assumes a role in.

use super::*;

#[derive(Debug, Clone)]
pub struct AwsConfig {
    pub region: String,
    /// One endpoint for CloudWatch, Support and Health (VPC endpoints, moto in tests).
    pub endpoint_url: Option<String>,
    /// `[[aws.accounts]]`: other accounts whose alarms are polled through an assumed role.
    pub accounts: Vec<AccountConfig>,
}

/// `[[aws.accounts]]`: another AWS account warroom reads alarms in, by assuming a role there
/// (the read-only role of `deploy/aws/member-account.yaml`).
#[derive(Clone, PartialEq, Eq)]
pub struct AccountConfig {
    /// A short label for logs and `warroom doctor` (`[a-z0-9-]`, up to 32 characters).
    pub name: String,
    /// `arn:aws:iam::<12-digit account>:role/<name>`.
    pub role_arn: String,
    /// The 12-digit account id, from `role_arn`.
    pub account_id: String,
    /// AssumeRole's `ExternalId`, when the role's trust policy asks for one.
    pub external_id: Option<String>,
    /// Regions polled in this account; `[alarms] regions` when not given.
    pub regions: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAws {
    pub(super) region: Option<String>,
    pub(super) endpoint_url: Option<String>,
    #[serde(default)]
    pub(super) accounts: Vec<RawAccount>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAccount {
    pub(super) name: Option<String>,
    pub(super) role_arn: Option<String>,
    pub(super) external_id: Option<String>,
    pub(super) regions: Option<Vec<String>>,
}

impl fmt::Debug for AccountConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountConfig")
            .field("name", &self.name)
            .field("role_arn", &self.role_arn)
            .field(
                "external_id",
                &self.external_id.as_ref().map(|_| "[redacted]"),
            )
            .field("regions", &self.regions)
            .finish()
    }
}

/// `[[aws.accounts]]`: unique names and accounts, role ARNs of the IAM role shape, regions
/// well formed (`[alarms] regions` when not given).
pub(super) fn accounts_config(
    raw: Vec<RawAccount>,
    alarm_regions: &[String],
) -> Result<Vec<AccountConfig>, ConfigError> {
    let key = "[[aws.accounts]]";
    let mut out: Vec<AccountConfig> = Vec::new();
    for a in raw {
        let Some(name) = a.name else {
            return Err(invalid(key, "an account has no name"));
        };
        let name_ok = !name.is_empty()
            && name.len() <= 32
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !name_ok {
            return Err(invalid(
                key,
                format!("name \"{name}\" must be 1 to 32 of a-z, 0-9 and -"),
            ));
        }
        let Some(role_arn) = a.role_arn else {
            return Err(invalid(key, format!("account \"{name}\" has no role_arn")));
        };
        let Some(account_id) = role_account(&role_arn) else {
            return Err(invalid(
                key,
                format!(
                    "account \"{name}\": role_arn must look like \
                     arn:aws:iam::<12-digit account>:role/<name>"
                ),
            ));
        };
        if let Some(id) = &a.external_id {
            let ok = (2..=1224).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+=,.@:/-_".contains(&b));
            if !ok {
                return Err(invalid(
                    key,
                    format!("account \"{name}\": external_id must be 2 to 1224 of A-Z a-z 0-9 +=,.@:/-_"),
                ));
            }
        }
        let regions = match a.regions {
            None => alarm_regions.to_vec(),
            Some(list) if list.is_empty() => {
                return Err(invalid(
                    key,
                    format!("account \"{name}\": regions is empty"),
                ))
            }
            Some(mut list) => {
                for r in &list {
                    check_region(key, r)?;
                }
                list.sort();
                list.dedup();
                list
            }
        };
        if out.iter().any(|o| o.name == name) {
            return Err(invalid(key, format!("two accounts are named \"{name}\"")));
        }
        if out.iter().any(|o| o.account_id == account_id) {
            return Err(invalid(
                key,
                format!("account {account_id} is listed twice"),
            ));
        }
        out.push(AccountConfig {
            account_id: account_id.to_string(),
            name,
            role_arn,
            external_id: a.external_id,
            regions,
        });
    }
    Ok(out)
}

/// The account id of an IAM role ARN (`arn:<partition>:iam::<12 digits>:role/<path/name>`).
pub(super) fn role_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let ok = partition.starts_with("aws")
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && resource.strip_prefix("role/").is_some_and(|r| {
            !r.is_empty()
                && r.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b))
        });
    ok.then_some(account)
}

//! The account guard: the stage's pin (`provider.allowedAccountIds`,
//! `provider.forbiddenAccountIds`, `--expect-account`, the account recorded in the account
//! lock file) against the account the credentials belong to, as proven by STS
//! GetCallerIdentity or as declared by the profile itself. Every rule that is set must hold.

use std::fmt;

/// The accounts a stage may and may not act on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountPin {
    /// `provider.allowedAccountIds`: the account must be one of these (when not empty).
    pub allowed: Vec<String>,
    /// `provider.forbiddenAccountIds`: the account must not be one of these.
    pub forbidden: Vec<String>,
    /// `--expect-account` / `DEPLOYER_EXPECT_ACCOUNT`: the account must equal this.
    pub expect: Option<String>,
    /// The account recorded for the stage (the account lock file, or `--accept-account`):
    /// the account must equal it.
    pub recorded: Option<RecordedAccount>,
}

/// An account recorded for a stage, and where the record comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedAccount {
    /// The recorded account id.
    pub account: String,
    /// Where it is recorded, for messages: the lock file's path, or `--accept-account`.
    pub origin: String,
}

impl AccountPin {
    /// Whether anything restricts the account.
    pub fn is_pinned(&self) -> bool {
        !self.allowed.is_empty()
            || !self.forbidden.is_empty()
            || self.expect.is_some()
            || self.recorded.is_some()
    }

    /// Whether the service configuration itself pins the stage (`allowedAccountIds` or
    /// `forbiddenAccountIds`).
    pub fn config_pins(&self) -> bool {
        !self.allowed.is_empty() || !self.forbidden.is_empty()
    }

    /// Compare `account` with the pin. `Ok(true)` when pinned and it holds, `Ok(false)` when the
    /// stage has no pin, `Err(reason)` when it breaks.
    pub fn check(&self, account: &str) -> Result<bool, Broken> {
        if let Some(expected) = &self.expect
            && expected != account
        {
            return Err(Broken::NotExpected {
                expected: expected.clone(),
            });
        }
        if !self.allowed.is_empty() && !self.allowed.iter().any(|a| a == account) {
            return Err(Broken::NotAllowed {
                allowed: self.allowed.clone(),
            });
        }
        if self.forbidden.iter().any(|a| a == account) {
            return Err(Broken::Forbidden);
        }
        if let Some(recorded) = &self.recorded
            && recorded.account != account
        {
            return Err(Broken::NotRecorded {
                recorded: recorded.clone(),
            });
        }
        Ok(self.is_pinned())
    }

    /// The account the stage must deploy to, when the pin names exactly one.
    pub fn required_account(&self) -> Option<&str> {
        match (&self.expect, self.allowed.as_slice(), &self.recorded) {
            (Some(e), _, _) => Some(e),
            (None, [one], _) => Some(one),
            (None, [], Some(r)) => Some(&r.account),
            _ => None,
        }
    }
}

/// Which rule of the pin an account breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Broken {
    /// Not in `provider.allowedAccountIds`.
    NotAllowed {
        /// The allowed accounts.
        allowed: Vec<String>,
    },
    /// In `provider.forbiddenAccountIds`.
    Forbidden,
    /// Not the `--expect-account`.
    NotExpected {
        /// The expected account.
        expected: String,
    },
    /// Not the account recorded for the stage.
    NotRecorded {
        /// The recorded account and where it is recorded.
        recorded: RecordedAccount,
    },
    /// The credentials were refreshed during the run and the new set belongs to another
    /// account than the one proven when the run started.
    Refreshed {
        /// The account proven at the start of the run.
        proven: String,
    },
    /// The stage has no pin at all, where one is required (`verify`).
    Unpinned {
        /// The account lock file `deployer pin` would write.
        lock_file: String,
    },
}

/// Where the refused account came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// STS GetCallerIdentity answered with this principal.
    Caller {
        /// The principal ARN.
        arn: String,
    },
    /// The profile declares it (role ARN or `sso_account_id`); no network call was made.
    Declared {
        /// e.g. `assumes arn:aws:iam::222222222222:role/deployer`.
        how: String,
    },
}

/// The guard refused the credentials: nothing may be read or written with them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardRefusal {
    /// The stage.
    pub stage: String,
    /// The account of the credentials.
    pub account: String,
    /// Display form of the credential source, e.g. `profile "devAccount"`.
    pub source: String,
    /// The broken rule.
    pub broken: Broken,
    /// How the account is known.
    pub evidence: Evidence,
    /// Environment-variable stem for the stage (`AWS_PROD`), for the hint.
    pub stage_env: String,
}

impl fmt::Display for GuardRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.rule(f)?;
        let but = match self.broken {
            Broken::Unpinned { .. } => ":",
            Broken::Refreshed { .. } => ": now",
            _ => ", but",
        };
        match &self.evidence {
            Evidence::Caller { arn } => {
                write!(f, "{but} {} is for {} ({arn})", self.source, self.account)?
            }
            Evidence::Declared { how } => {
                write!(f, "{but} {} {how} (account {})", self.source, self.account)?
            }
        }
        match &self.broken {
            Broken::Refreshed { .. } => f.write_str(
                ". The run stopped before any request used them; what it did before was done \
                 with the proven credentials. ",
            )?,
            _ => f.write_str(". Nothing was done. ")?,
        }
        self.way_out(f)
    }
}

impl GuardRefusal {
    /// The rule that breaks, e.g. `stage prod must deploy to 111111111111`.
    fn rule(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stage = &self.stage;
        match &self.broken {
            Broken::NotAllowed { allowed } if allowed.len() == 1 => {
                write!(f, "stage {stage} must deploy to {}", allowed[0])
            }
            Broken::NotAllowed { allowed } => write!(
                f,
                "stage {stage} must deploy to one of {}",
                allowed.join(", ")
            ),
            Broken::NotExpected { expected } => write!(
                f,
                "stage {stage} must deploy to {expected} (--expect-account)"
            ),
            Broken::Forbidden => write!(
                f,
                "stage {stage} must not deploy to {} (provider.forbiddenAccountIds)",
                self.account
            ),
            Broken::NotRecorded { recorded } => write!(
                f,
                "stage {stage} is recorded for account {} in {}",
                recorded.account, recorded.origin
            ),
            Broken::Unpinned { .. } => write!(
                f,
                "stage {stage} has no account pin, so nothing proves the credentials are the \
                 stage's"
            ),
            Broken::Refreshed { proven } => write!(
                f,
                "stage {stage} was proven to be in account {proven} when the run started, \
                 but its credentials were refreshed during the run"
            ),
        }
    }

    /// What to do about it.
    fn way_out(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let creds = format!(
            "Use credentials for the stage's account: pass --aws-profile NAME, set {}_PROFILE, \
             or fix provider.profile",
            self.stage_env
        );
        match &self.broken {
            Broken::NotExpected { .. } => write!(
                f,
                "{creds} (or the --expect-account / DEPLOYER_EXPECT_ACCOUNT value)"
            ),
            Broken::NotRecorded { recorded } if recorded.origin == "--accept-account" => write!(
                f,
                "{creds}, or pass the account these credentials are for to --accept-account"
            ),
            Broken::NotRecorded { .. } => write!(
                f,
                "{creds}; if the stage really moved to account {}, record it with \
                 --accept-account {}",
                self.account, self.account
            ),
            Broken::Refreshed { proven } => write!(
                f,
                "Make {} hand out credentials of account {proven} on every refresh (check its \
                 credential_process, SSO, role or web identity settings), then re-run",
                self.source
            ),
            Broken::Unpinned { lock_file } => write!(
                f,
                "Pin the stage: add provider.allowedAccountIds, run `deployer pin --stage {}` \
                 (records the account in {lock_file}), or pass --expect-account ID",
                self.stage
            ),
            _ => write!(f, "{creds} / the account pin in the service configuration"),
        }
    }
}

impl std::error::Error for GuardRefusal {}

/// The outcome of the guard for a usable session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The stage has no pin: anything goes, but the account is shown.
    Unpinned,
    /// The pin holds.
    Holds,
    /// The pin is broken.
    Refused(GuardRefusal),
}

impl Verdict {
    /// Whether the command may go on.
    pub fn allowed(&self) -> bool {
        !matches!(self, Verdict::Refused(_))
    }
}

/// Whose credentials the guard judges: the stage and the display form of the source.
#[derive(Debug, Clone)]
pub(crate) struct Subject {
    /// The stage.
    pub stage: String,
    /// Display form of the credential source.
    pub source: String,
    /// Environment-variable stem for the stage (`AWS_PROD`).
    pub stage_env: String,
}

impl Subject {
    /// Judge `account` against `pin`: `Ok(pinned)` when it holds, the refusal when it breaks.
    pub(crate) fn judge(
        &self,
        pin: &AccountPin,
        account: &str,
        evidence: Evidence,
    ) -> Result<bool, Box<GuardRefusal>> {
        pin.check(account).map_err(|broken| {
            Box::new(GuardRefusal {
                stage: self.stage.clone(),
                account: account.to_string(),
                source: self.source.clone(),
                broken,
                evidence,
                stage_env: self.stage_env.clone(),
            })
        })
    }

    /// The verdict on the account STS reported.
    pub(crate) fn verdict(&self, pin: &AccountPin, account: &str, arn: &str) -> Verdict {
        let evidence = Evidence::Caller {
            arn: arn.to_string(),
        };
        match self.judge(pin, account, evidence) {
            Ok(false) => Verdict::Unpinned,
            Ok(true) => Verdict::Holds,
            Err(refusal) => Verdict::Refused(*refusal),
        }
    }
}

/// Whether `s` is a 12-digit AWS account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(allowed: &[&str], forbidden: &[&str], expect: Option<&str>) -> AccountPin {
        AccountPin {
            allowed: allowed.iter().map(|s| s.to_string()).collect(),
            forbidden: forbidden.iter().map(|s| s.to_string()).collect(),
            expect: expect.map(str::to_string),
            recorded: None,
        }
    }

    #[test]
    fn unpinned_accepts_anything() {
        assert_eq!(pin(&[], &[], None).check("123456789012"), Ok(false));
    }

    #[test]
    fn allowed_forbidden_and_expect_are_all_enforced() {
        let p = pin(&["111111111111"], &[], None);
        assert_eq!(p.check("111111111111"), Ok(true));
        assert!(matches!(
            p.check("222222222222"),
            Err(Broken::NotAllowed { .. })
        ));
        let f = pin(&[], &["222222222222"], None);
        assert_eq!(f.check("111111111111"), Ok(true));
        assert_eq!(f.check("222222222222"), Err(Broken::Forbidden));
        let e = pin(&["111111111111", "333333333333"], &[], Some("333333333333"));
        assert_eq!(e.check("333333333333"), Ok(true));
        assert!(matches!(
            e.check("111111111111"),
            Err(Broken::NotExpected { .. })
        ));
    }

    #[test]
    fn refusal_names_stage_accounts_source_and_principal() {
        let r = GuardRefusal {
            stage: "prod".into(),
            account: "222222222222".into(),
            source: "profile \"devAccount\"".into(),
            broken: Broken::NotAllowed {
                allowed: vec!["111111111111".into()],
            },
            evidence: Evidence::Caller {
                arn: "arn:aws:iam::222222222222:user/ci".into(),
            },
            stage_env: "AWS_PROD".into(),
        };
        let msg = r.to_string();
        assert!(
            msg.starts_with(
                "stage prod must deploy to 111111111111, but profile \"devAccount\" is for \
                 222222222222 (arn:aws:iam::222222222222:user/ci). Nothing was done."
            ),
            "{msg}"
        );
        assert!(msg.contains("AWS_PROD_PROFILE"), "{msg}");
    }

    #[test]
    fn declared_refusal_names_the_role() {
        let r = GuardRefusal {
            stage: "prod".into(),
            account: "222222222222".into(),
            source: "profile \"devRole\"".into(),
            broken: Broken::Forbidden,
            evidence: Evidence::Declared {
                how: "assumes arn:aws:iam::222222222222:role/d".into(),
            },
            stage_env: "AWS_PROD".into(),
        };
        assert!(r.to_string().starts_with(
            "stage prod must not deploy to 222222222222 (provider.forbiddenAccountIds), but \
             profile \"devRole\" assumes arn:aws:iam::222222222222:role/d (account 222222222222)"
        ));
    }

    #[test]
    fn recorded_account_is_one_more_rule_that_must_hold() {
        let mut p = pin(&["111111111111", "222222222222"], &[], None);
        p.recorded = Some(RecordedAccount {
            account: "222222222222".into(),
            origin: "/svc/deployer.accounts.json".into(),
        });
        assert_eq!(p.check("222222222222"), Ok(true));
        assert!(matches!(
            p.check("111111111111"),
            Err(Broken::NotRecorded { .. })
        ));
        assert!(matches!(
            p.check("333333333333"),
            Err(Broken::NotAllowed { .. })
        ));
        let only = AccountPin {
            recorded: p.recorded.clone(),
            ..AccountPin::default()
        };
        assert!(only.is_pinned() && !only.config_pins());
        assert_eq!(only.required_account(), Some("222222222222"));
    }

    #[test]
    fn record_refusal_names_the_file_both_accounts_and_the_way_out() {
        let r = GuardRefusal {
            stage: "dev".into(),
            account: "111111111111".into(),
            source: "profile \"default\"".into(),
            broken: Broken::NotRecorded {
                recorded: RecordedAccount {
                    account: "222222222222".into(),
                    origin: "/svc/deployer.accounts.json".into(),
                },
            },
            evidence: Evidence::Caller {
                arn: "arn:aws:iam::111111111111:user/me".into(),
            },
            stage_env: "AWS_DEV".into(),
        };
        let msg = r.to_string();
        assert!(
            msg.starts_with(
                "stage dev is recorded for account 222222222222 in /svc/deployer.accounts.json, \
                 but profile \"default\" is for 111111111111"
            ),
            "{msg}"
        );
        assert!(msg.ends_with("--accept-account 111111111111"), "{msg}");
    }

    #[test]
    fn unpinned_refusal_says_how_to_pin() {
        let r = GuardRefusal {
            stage: "prod".into(),
            account: "111111111111".into(),
            source: "profile \"default\"".into(),
            broken: Broken::Unpinned {
                lock_file: "deployer.accounts.json".into(),
            },
            evidence: Evidence::Caller {
                arn: "arn:aws:iam::111111111111:user/me".into(),
            },
            stage_env: "AWS_PROD".into(),
        };
        let msg = r.to_string();
        assert!(
            msg.starts_with("stage prod has no account pin, so nothing proves"),
            "{msg}"
        );
        assert!(msg.contains("deployer pin --stage prod"), "{msg}");
        assert!(msg.contains("--expect-account ID"), "{msg}");
    }

    #[test]
    fn account_ids_are_twelve_digits() {
        assert!(is_account_id("111111111111"));
        assert!(!is_account_id("11111111111"));
        assert!(!is_account_id("11111111111a"));
    }
}

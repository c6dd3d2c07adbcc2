//! Approval workflows: templates, requests and the decisions on them.
//!
//! A request is a log of signed records ([`crate::record`]) of kind
//! `Approval`, one log per request, in a space of its own whose readers
//! and writers are the applicant and the request's approvers. Its records
//! are [`Op`]s:
//!
//! - [`Op::Submit`]: the applicant's request, with the whole [`Template`]
//!   copied in, so the rules that decide it are fixed at submission;
//! - [`Op::Decide`]: an approver approves or rejects one step;
//! - [`Op::Withdraw`]: the applicant withdraws the request;
//! - [`Op::TaskCreated`]: the task an approved request made.
//!
//! A template is a list of *stages* run in sequence; the *steps* of a
//! stage run in parallel, and each names who may decide it ([`Approvers`]):
//! the holders of a role, a department head of the applicant's department
//! (or one above it), or named members.
//!
//! [`Request::build`] folds the records into the request's progress, as a
//! pure function of the set of records (never of their arrival order), so
//! that every node shows the same state:
//!
//! 1. The request is the first [`Op::Submit`] in [`causal_order`] signed
//!    by the owner of the request's space (its applicant) whose template
//!    and fields are valid. Every other submission is ignored, and so is
//!    every record that does not have it in its causal past.
//! 2. A decision **counts** only if its signer, by the certificate its
//!    envelope names (checked by the validity rule to be the signer's and
//!    valid at the time it was signed), may decide the step
//!    ([`may_decide`]), is not the applicant, and — among the counting
//!    records the signer had seen when signing (its causal past, by
//!    [`Ancestry`]) — the request was neither withdrawn nor decided, every
//!    step of every earlier stage was approved (the step's stage was
//!    *active*: nobody can approve a later stage ahead of time), and the
//!    step itself was not decided yet.
//! 3. A step is **rejected** if any counting decision rejects it, approved
//!    if one approves it and none rejects it: concurrent decisions on one
//!    step resolve to a rejection, whatever the order they arrive in.
//! 4. The request is **withdrawn** if the applicant's withdrawal counts (it
//!    counts unless the request was decided or withdrawn in its causal
//!    past; a withdrawal concurrent with the final decision therefore wins,
//!    and decisions that saw it do not count); else **rejected** if any
//!    step is rejected; else **approved** when every step of every stage
//!    is approved; else **pending**, at the first stage not approved.
//! 5. The first [`Op::TaskCreated`] that saw the request approved names
//!    its task; later ones are ignored.
//!
//! Records with no effect stay in the history with the reason
//! ([`Ignored`]), so the page and the CLI can say why.
//!
//! Templates ([`Template`]) are built in ([`builtins`]: leave, expense,
//! seal) or the org's own: [`TemplateOp`] records in one org-wide log,
//! counting only when signed by an admin ([`Templates::build`]).

use crate::record::{Ancestry, Record, RecordId, Signer, causal_order};
use outpost_identity::op::Role;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A member, by signing key.
pub type Member = [u8; 32];

/// Longest template, field or step name, in bytes.
pub const NAME_BYTES_MAX: usize = 64;
/// Longest request title or project reference, in bytes.
pub const TITLE_BYTES_MAX: usize = 256;
/// Longest field value, in bytes.
pub const VALUE_BYTES_MAX: usize = 4096;
/// Longest decision comment, in bytes.
pub const COMMENT_BYTES_MAX: usize = 4096;
/// Most fields of a template.
pub const FIELDS_MAX: usize = 32;
/// Most stages of a template.
pub const STAGES_MAX: usize = 16;
/// Most steps of one stage.
pub const STEPS_MAX: usize = 16;
/// Most members named by one step.
pub const APPROVERS_MAX: usize = 64;
/// Most digits after the decimal point of a money amount.
pub const MONEY_DECIMALS_MAX: usize = 2;

/// What a field holds; values are text, checked by kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// Any text (line breaks allowed).
    Text,
    /// A decimal number, such as `-3` or `12.5`.
    Number,
    /// A date, `2026-12-01`.
    Date,
    /// An amount of money, not negative, with at most two decimals: `1200.50`.
    Money,
}

impl FieldKind {
    /// The name used in templates and listings.
    pub fn name(self) -> &'static str {
        match self {
            FieldKind::Text => "text",
            FieldKind::Number => "number",
            FieldKind::Date => "date",
            FieldKind::Money => "money",
        }
    }

    /// Parses a name as [`FieldKind::name`] writes it.
    pub fn parse(text: &str) -> Option<FieldKind> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "text" => FieldKind::Text,
            "number" => FieldKind::Number,
            "date" => FieldKind::Date,
            "money" => FieldKind::Money,
            _ => return None,
        })
    }

    /// Does `value` read as this kind?
    pub fn accepts(self, value: &str) -> bool {
        match self {
            FieldKind::Text => true,
            FieldKind::Number => {
                let v = value.strip_prefix('-').unwrap_or(value);
                decimal(v, usize::MAX)
            }
            FieldKind::Money => decimal(value, MONEY_DECIMALS_MAX),
            FieldKind::Date => is_date(value),
        }
    }
}

impl fmt::Display for FieldKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Digits, then optionally a point and 1 to `decimals` digits.
fn decimal(text: &str, decimals: usize) -> bool {
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(int) && frac.is_none_or(|f| digits(f) && f.len() <= decimals)
}

/// `YYYY-MM-DD`, a real day between years 1000 and 9999.
pub fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |s: &str| {
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    let (Some(y), Some(m), Some(d)) = (num(&text[..4]), num(&text[5..7]), num(&text[8..])) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    y >= 1000 && (1..=days).contains(&d)
}

/// One field of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// Its name, as the applicant gives it (`--field amount=120`).
    pub name: String,
    /// What it holds.
    pub kind: FieldKind,
    /// Must the applicant fill it in?
    pub required: bool,
}

/// Who may decide a step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Approvers {
    /// Whoever holds this role (by the certificate they sign with).
    Role(Role),
    /// A department head whose department is the applicant's or one above
    /// it.
    DeptHead,
    /// One of these members.
    Members(Vec<Member>),
}

impl fmt::Display for Approvers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Approvers::Role(r) => write!(f, "role:{r}"),
            Approvers::DeptHead => f.write_str("dept-head"),
            Approvers::Members(m) => write!(f, "{} named member(s)", m.len()),
        }
    }
}

/// One step of a stage: who must decide it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Its name, unique in the template (`--step finance`).
    pub name: String,
    /// Who may decide it.
    pub approvers: Approvers,
}

/// What a request asks for and who decides it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    /// Its name (`leave`, `expense`, ...), unique in the org, any case.
    pub name: String,
    /// The fields the applicant fills in.
    pub fields: Vec<Field>,
    /// Stages, decided one after the other; the steps of a stage are
    /// decided in parallel, each by its own approvers.
    pub stages: Vec<Vec<Step>>,
    /// A project (its name or id) to add a task to once the request is
    /// approved.
    pub creates_task: Option<String>,
}

/// A template that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// A name is empty, too long or holds control characters.
    #[error("the {what} {name:?} is not valid: names are 1 to {NAME_BYTES_MAX} bytes without control characters")]
    BadName {
        /// What it names.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// Two fields or two steps with one name.
    #[error("two {what}s are named {name:?}: names must be unique")]
    Duplicate {
        /// Field or step.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// Nothing to decide.
    #[error("the template has no stages, or a stage with no steps: every stage needs at least one step")]
    Empty,
    /// Too many of something.
    #[error("the template has more than {max} {what}")]
    TooMany {
        /// What.
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// A step names no member.
    #[error("step {0:?} names no approver")]
    NoApprover(String),
    /// A role nobody can hold as an approver.
    #[error("step {0:?} names the role {1}, which never decides: name admin, dept-head or member")]
    BadRole(String, Role),
    /// The project reference is too long.
    #[error("the project to create tasks in is longer than {TITLE_BYTES_MAX} bytes or holds control characters")]
    BadProject,
}

/// A name: 1 to [`NAME_BYTES_MAX`] bytes, no control characters, not
/// only spaces.
fn name_ok(name: &str) -> bool {
    !name.trim().is_empty() && name.len() <= NAME_BYTES_MAX && !name.chars().any(char::is_control)
}

impl Template {
    /// Checks names, limits and that every step can be decided.
    pub fn check(&self) -> Result<(), TemplateError> {
        let bad = |what, name: &str| TemplateError::BadName {
            what,
            name: name.to_owned(),
        };
        if !name_ok(&self.name) {
            return Err(bad("template name", &self.name));
        }
        if self.fields.len() > FIELDS_MAX {
            return Err(TemplateError::TooMany {
                what: "fields",
                max: FIELDS_MAX,
            });
        }
        let mut names = std::collections::BTreeSet::new();
        for f in &self.fields {
            if !name_ok(&f.name) || f.name.contains('=') {
                return Err(bad("field name", &f.name));
            }
            if !names.insert(f.name.to_lowercase()) {
                return Err(TemplateError::Duplicate {
                    what: "field",
                    name: f.name.clone(),
                });
            }
        }
        if self.stages.is_empty() || self.stages.iter().any(Vec::is_empty) {
            return Err(TemplateError::Empty);
        }
        if self.stages.len() > STAGES_MAX {
            return Err(TemplateError::TooMany {
                what: "stages",
                max: STAGES_MAX,
            });
        }
        let mut steps = std::collections::BTreeSet::new();
        for stage in &self.stages {
            if stage.len() > STEPS_MAX {
                return Err(TemplateError::TooMany {
                    what: "steps in a stage",
                    max: STEPS_MAX,
                });
            }
            for s in stage {
                if !name_ok(&s.name) {
                    return Err(bad("step name", &s.name));
                }
                if !steps.insert(s.name.to_lowercase()) {
                    return Err(TemplateError::Duplicate {
                        what: "step",
                        name: s.name.clone(),
                    });
                }
                match &s.approvers {
                    Approvers::Members(m) if m.is_empty() => return Err(TemplateError::NoApprover(s.name.clone())),
                    Approvers::Members(m) if m.len() > APPROVERS_MAX => {
                        return Err(TemplateError::TooMany {
                            what: "approvers in a step",
                            max: APPROVERS_MAX,
                        });
                    }
                    Approvers::Role(r @ (Role::Guest | Role::Relay)) => {
                        return Err(TemplateError::BadRole(s.name.clone(), *r));
                    }
                    _ => {}
                }
            }
        }
        if let Some(p) = &self.creates_task
            && (p.trim().is_empty() || p.len() > TITLE_BYTES_MAX || p.chars().any(char::is_control))
        {
            return Err(TemplateError::BadProject);
        }
        Ok(())
    }

    /// Checks the applicant's field values: every one named by the
    /// template, the required ones given, each of its kind.
    pub fn check_fields(&self, values: &BTreeMap<String, String>) -> Result<(), FieldError> {
        for (name, value) in values {
            let field = self
                .fields
                .iter()
                .find(|f| f.name == *name)
                .ok_or_else(|| FieldError::Unknown(name.clone()))?;
            if value.len() > VALUE_BYTES_MAX {
                return Err(FieldError::TooLong(name.clone()));
            }
            if value.chars().any(|c| c.is_control() && c != '\n') {
                return Err(FieldError::Control(name.clone()));
            }
            if !value.trim().is_empty() && !field.kind.accepts(value.trim()) {
                return Err(FieldError::Kind {
                    name: name.clone(),
                    kind: field.kind,
                    value: value.clone(),
                });
            }
        }
        for f in &self.fields {
            if f.required && values.get(&f.name).is_none_or(|v| v.trim().is_empty()) {
                return Err(FieldError::Missing(f.name.clone()));
            }
        }
        Ok(())
    }

    /// The step named `name` (any case): (stage, step).
    pub fn step_named(&self, name: &str) -> Option<(usize, usize)> {
        self.stages.iter().enumerate().find_map(|(i, stage)| {
            stage
                .iter()
                .position(|s| s.name.eq_ignore_ascii_case(name.trim()))
                .map(|j| (i, j))
        })
    }

    /// The step at (stage, step).
    pub fn step(&self, stage: usize, step: usize) -> Option<&Step> {
        self.stages.get(stage)?.get(step)
    }
}

/// A field value that does not fit the template.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldError {
    /// The template has no such field.
    #[error("the template has no field {0:?}")]
    Unknown(String),
    /// A required field is missing or empty.
    #[error("the field {0:?} is required")]
    Missing(String),
    /// The value is too long.
    #[error("the field {0:?} is longer than {VALUE_BYTES_MAX} bytes")]
    TooLong(String),
    /// The value holds control characters.
    #[error("the field {0:?} holds control characters")]
    Control(String),
    /// The value does not read as the field's kind.
    #[error("the field {name:?} must be {}, not {value:?}", kind_hint(*kind))]
    Kind {
        /// The field.
        name: String,
        /// Its kind.
        kind: FieldKind,
        /// What was given.
        value: String,
    },
}

fn kind_hint(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Text => "text",
        FieldKind::Number => "a number such as 12 or -3.5",
        FieldKind::Date => "a date such as 2026-12-01",
        FieldKind::Money => "an amount such as 1200 or 1200.50",
    }
}

/// The templates every org has. An admin's template of the same name
/// replaces one.
///
/// - `leave` (from, to: dates; reason): the applicant's department head,
///   then an admin (as HR);
/// - `expense` (amount: money; currency; purpose): the department head,
///   then an admin;
/// - `seal` (document; purpose), for using the company seal: the
///   department head and an admin, in parallel.
pub fn builtins() -> Vec<Template> {
    let field = |name: &str, kind, required| Field {
        name: name.to_owned(),
        kind,
        required,
    };
    let head = || Step {
        name: "head".to_owned(),
        approvers: Approvers::DeptHead,
    };
    let admin = |name: &str| Step {
        name: name.to_owned(),
        approvers: Approvers::Role(Role::Admin),
    };
    vec![
        Template {
            name: "leave".to_owned(),
            fields: vec![
                field("from", FieldKind::Date, true),
                field("to", FieldKind::Date, true),
                field("reason", FieldKind::Text, false),
            ],
            stages: vec![vec![head()], vec![admin("hr")]],
            creates_task: None,
        },
        Template {
            name: "expense".to_owned(),
            fields: vec![
                field("amount", FieldKind::Money, true),
                field("currency", FieldKind::Text, true),
                field("purpose", FieldKind::Text, true),
            ],
            stages: vec![vec![head()], vec![admin("admin")]],
            creates_task: None,
        },
        Template {
            name: "seal".to_owned(),
            fields: vec![
                field("document", FieldKind::Text, true),
                field("purpose", FieldKind::Text, true),
            ],
            stages: vec![vec![head(), admin("admin")]],
            creates_task: None,
        },
    ]
}

/// One record of a request's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// The request, by the applicant.
    Submit {
        /// What it is about.
        title: String,
        /// The template, copied whole: its rules decide this request.
        template: Template,
        /// The applicant's values, by field name.
        fields: BTreeMap<String, String>,
    },
    /// An approver's decision on one step.
    Decide {
        /// The stage, from 0.
        stage: u16,
        /// The step in the stage, from 0.
        step: u16,
        /// Approve (true) or reject.
        approve: bool,
        /// Why, for the history.
        comment: String,
    },
    /// The applicant withdraws the request.
    Withdraw,
    /// The task the approved request made.
    TaskCreated {
        /// The project (board document id, hex).
        project: String,
        /// The task id.
        task: String,
    },
}

/// An op out of bounds.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpError {
    /// The template is not valid.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// A field value does not fit.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// The title is empty, too long or holds control characters.
    #[error("the title is not valid: it must be 1 to {TITLE_BYTES_MAX} bytes without control characters")]
    Title,
    /// The comment is too long.
    #[error("the comment is longer than {COMMENT_BYTES_MAX} bytes")]
    Comment,
    /// A task reference is too long.
    #[error("the task reference is too long")]
    TaskRef,
}

impl Op {
    /// Checks every limit (and, for a submission, the template and the
    /// fields).
    pub fn check(&self) -> Result<(), OpError> {
        match self {
            Op::Submit {
                title,
                template,
                fields,
            } => {
                if title.trim().is_empty() || title.len() > TITLE_BYTES_MAX || title.chars().any(char::is_control) {
                    return Err(OpError::Title);
                }
                template.check()?;
                template.check_fields(fields)?;
                Ok(())
            }
            Op::Decide { comment, .. } if comment.len() > COMMENT_BYTES_MAX => Err(OpError::Comment),
            Op::TaskCreated { project, task } if project.len() > TITLE_BYTES_MAX || task.len() > TITLE_BYTES_MAX => {
                Err(OpError::TaskRef)
            }
            Op::Decide { .. } | Op::Withdraw | Op::TaskCreated { .. } => Ok(()),
        }
    }
}

/// May `signer` decide a step with `approvers` of a request by
/// `applicant`? The applicant never may.
pub fn may_decide(approvers: &Approvers, applicant: &Signer, signer: &Signer) -> bool {
    if signer.key == applicant.key {
        return false;
    }
    match approvers {
        Approvers::Role(r) => signer.role == *r,
        Approvers::DeptHead => signer.role == Role::DeptHead && applicant.dept.is_within(&signer.dept),
        Approvers::Members(keys) => keys.contains(&signer.key),
    }
}

/// Where a request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Waiting for decisions.
    Pending,
    /// Every step of every stage approved.
    Approved,
    /// A step rejected.
    Rejected,
    /// Withdrawn by the applicant.
    Withdrawn,
}

impl State {
    /// The name shown.
    pub fn name(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Approved => "approved",
            State::Rejected => "rejected",
            State::Withdrawn => "withdrawn",
        }
    }
}

/// Where one step stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    /// Its stage is not reached yet.
    Waiting,
    /// Its stage is active; no decision yet.
    Pending,
    /// Approved.
    Approved,
    /// Rejected.
    Rejected,
    /// Never decided: the request was decided or withdrawn first.
    Closed,
}

impl StepState {
    /// The name shown.
    pub fn name(self) -> &'static str {
        match self {
            StepState::Waiting => "waiting",
            StepState::Pending => "pending",
            StepState::Approved => "approved",
            StepState::Rejected => "rejected",
            StepState::Closed => "closed",
        }
    }
}

/// Why a record had no effect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ignored {
    /// A submission signed by someone other than the space's owner.
    NotOwner,
    /// A submission whose template or fields are not valid.
    Invalid(String),
    /// A submission after the one that defines the request.
    Resubmitted,
    /// A record written without having seen the submission.
    BeforeSubmission,
    /// A decision on a stage or step the template does not have.
    NoSuchStep,
    /// The applicant decided their own request.
    Applicant,
    /// The signer's certificate does not make them an approver of the step.
    NotEligible,
    /// An earlier stage was not approved in the signer's view.
    StageNotActive,
    /// The step was decided already in the signer's view.
    StepDecided,
    /// The request was approved or rejected already in the signer's view.
    Decided,
    /// The request was withdrawn already in the signer's view.
    Withdrawn,
    /// A withdrawal by someone other than the applicant.
    NotApplicant,
    /// A task recorded for a request that was not approved in the signer's view.
    NotApproved,
    /// A task was recorded already.
    TaskRecorded,
}

impl Ignored {
    /// A short code for programs.
    pub fn code(&self) -> &'static str {
        match self {
            Ignored::NotOwner => "not_owner",
            Ignored::Invalid(_) => "invalid",
            Ignored::Resubmitted => "resubmitted",
            Ignored::BeforeSubmission => "before_submission",
            Ignored::NoSuchStep => "no_such_step",
            Ignored::Applicant => "applicant",
            Ignored::NotEligible => "not_eligible",
            Ignored::StageNotActive => "stage_not_active",
            Ignored::StepDecided => "step_decided",
            Ignored::Decided => "decided",
            Ignored::Withdrawn => "withdrawn",
            Ignored::NotApplicant => "not_applicant",
            Ignored::NotApproved => "not_approved",
            Ignored::TaskRecorded => "task_recorded",
        }
    }
}

impl fmt::Display for Ignored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ignored::NotOwner => f.write_str("a submission by someone other than the request's applicant"),
            Ignored::Invalid(why) => write!(f, "the submission is not valid: {why}"),
            Ignored::Resubmitted => f.write_str("the request was submitted already"),
            Ignored::BeforeSubmission => f.write_str("written without having seen the request"),
            Ignored::NoSuchStep => f.write_str("the template has no such step"),
            Ignored::Applicant => f.write_str("the applicant cannot decide their own request"),
            Ignored::NotEligible => f.write_str("the signer's certificate does not make them an approver of this step"),
            Ignored::StageNotActive => f.write_str(
                "an earlier stage was not approved yet when this was signed: a later stage cannot be decided ahead",
            ),
            Ignored::StepDecided => f.write_str("the step was decided already when this was signed"),
            Ignored::Decided => f.write_str("the request was decided already when this was signed"),
            Ignored::Withdrawn => f.write_str("the request was withdrawn when this was signed"),
            Ignored::NotApplicant => f.write_str("only the applicant may withdraw a request"),
            Ignored::NotApproved => f.write_str("the request was not approved when this was signed"),
            Ignored::TaskRecorded => f.write_str("a task was recorded for this request already"),
        }
    }
}

/// A record of the request's history, with whether it counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The record's id.
    pub id: RecordId,
    /// Who signed it.
    pub signer: Signer,
    /// When, by the signer's clock (seconds).
    pub time: u64,
    /// What it says.
    pub op: Op,
    /// Why it had no effect; `None` if it counted.
    pub ignored: Option<Ignored>,
}

/// One step as the request stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepView {
    /// Its state.
    pub state: StepState,
    /// The counting decisions on it, in causal order.
    pub decisions: Vec<RecordId>,
}

/// The task an approved request made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskRef {
    /// The project (board document id, hex).
    pub project: String,
    /// The task id.
    pub task: String,
    /// The record naming it.
    pub record: RecordId,
}

/// A request as its records make it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The submission's record.
    pub submission: RecordId,
    /// Who asked.
    pub applicant: Signer,
    /// When, by the applicant's clock.
    pub submitted: u64,
    /// What it is about.
    pub title: String,
    /// The rules, as submitted.
    pub template: Template,
    /// The applicant's values.
    pub fields: BTreeMap<String, String>,
    /// Where it stands.
    pub state: State,
    /// The stage waiting for decisions, while pending.
    pub stage: Option<usize>,
    /// Every step by stage.
    pub steps: Vec<Vec<StepView>>,
    /// Every record in causal order, the submission first.
    pub history: Vec<Entry>,
    /// The task it made, if recorded.
    pub task: Option<TaskRef>,
}

/// A counting record, as later ones see it.
#[derive(Clone, Copy, Debug)]
enum Counted {
    Decision { stage: usize, step: usize, approve: bool },
    Withdraw,
    Task,
}

/// What a set of counting records says.
struct Tally {
    /// Per stage and step: (approvals, rejections).
    steps: Vec<Vec<(usize, usize)>>,
    withdrawn: bool,
    task: bool,
}

impl Tally {
    fn of<'a>(template: &Template, counted: impl Iterator<Item = &'a Counted>) -> Tally {
        let mut t = Tally {
            steps: template.stages.iter().map(|s| vec![(0, 0); s.len()]).collect(),
            withdrawn: false,
            task: false,
        };
        for c in counted {
            match *c {
                Counted::Decision { stage, step, approve } => {
                    let cell = &mut t.steps[stage][step];
                    if approve {
                        cell.0 += 1;
                    } else {
                        cell.1 += 1;
                    }
                }
                Counted::Withdraw => t.withdrawn = true,
                Counted::Task => t.task = true,
            }
        }
        t
    }

    /// Decided: (approvals, rejections) → rejected wins.
    fn step(&self, stage: usize, step: usize) -> Option<bool> {
        match self.steps[stage][step] {
            (_, r) if r > 0 => Some(false),
            (a, _) if a > 0 => Some(true),
            _ => None,
        }
    }

    fn stage_approved(&self, stage: usize) -> bool {
        (0..self.steps[stage].len()).all(|j| self.step(stage, j) == Some(true))
    }

    /// The first stage not approved; `None` when all are.
    fn active(&self) -> Option<usize> {
        (0..self.steps.len()).find(|&i| !self.stage_approved(i))
    }

    fn rejected(&self) -> bool {
        (0..self.steps.len()).any(|i| (0..self.steps[i].len()).any(|j| self.step(i, j) == Some(false)))
    }

    fn state(&self) -> State {
        if self.withdrawn {
            State::Withdrawn
        } else if self.rejected() {
            State::Rejected
        } else if self.active().is_none() {
            State::Approved
        } else {
            State::Pending
        }
    }
}

impl Request {
    /// The request the `records` of one log make, whose space `owner`
    /// created; `None` if they hold no valid submission by `owner`.
    pub fn build(records: &[Record<Op>], owner: &Member) -> Option<Request> {
        let order = causal_order(records);
        let ancestry = Ancestry::of(records);
        let submit = *order.iter().find(|r| match &r.body {
            Op::Submit { .. } => r.signer.key == *owner && r.body.check().is_ok(),
            _ => false,
        })?;
        let Op::Submit {
            title,
            template,
            fields,
        } = &submit.body
        else {
            unreachable!("found as a submission")
        };
        let mut req = Request {
            submission: submit.id,
            applicant: submit.signer.clone(),
            submitted: submit.time,
            title: title.clone(),
            template: template.clone(),
            fields: fields.clone(),
            state: State::Pending,
            stage: Some(0),
            steps: Vec::new(),
            history: Vec::with_capacity(order.len()),
            task: None,
        };
        let mut counted: Vec<(RecordId, Counted)> = Vec::new();
        for r in order {
            let verdict = if r.id == submit.id {
                None
            } else {
                Some(req.verdict(r, submit.id, owner, &ancestry, &counted))
            };
            let ignored = match verdict {
                None => None,
                Some(Ok(c)) => {
                    if let (Counted::Task, Op::TaskCreated { project, task }) = (c, &r.body) {
                        req.task = Some(TaskRef {
                            project: project.clone(),
                            task: task.clone(),
                            record: r.id,
                        });
                    }
                    counted.push((r.id, c));
                    None
                }
                Some(Err(why)) => Some(why),
            };
            req.history.push(Entry {
                id: r.id,
                signer: r.signer.clone(),
                time: r.time,
                op: r.body.clone(),
                ignored,
            });
        }
        let tally = Tally::of(&req.template, counted.iter().map(|(_, c)| c));
        req.state = tally.state();
        req.stage = if req.state == State::Pending {
            tally.active()
        } else {
            None
        };
        let active = tally.active();
        req.steps = req
            .template
            .stages
            .iter()
            .enumerate()
            .map(|(i, stage)| {
                (0..stage.len())
                    .map(|j| StepView {
                        state: match tally.step(i, j) {
                            Some(true) => StepState::Approved,
                            Some(false) => StepState::Rejected,
                            None if req.state != State::Pending => StepState::Closed,
                            None if active.is_some_and(|a| i > a) => StepState::Waiting,
                            None => StepState::Pending,
                        },
                        decisions: counted
                            .iter()
                            .filter(|(_, c)| matches!(c, Counted::Decision { stage, step, .. } if *stage == i && *step == j))
                            .map(|(id, _)| *id)
                            .collect(),
                    })
                    .collect()
            })
            .collect();
        Some(req)
    }

    /// The verdict on record `r` (not the submission), given the records
    /// counted before it in causal order.
    fn verdict(
        &self,
        r: &Record<Op>,
        submission: RecordId,
        owner: &Member,
        ancestry: &Ancestry,
        counted: &[(RecordId, Counted)],
    ) -> Result<Counted, Ignored> {
        if let Op::Submit { .. } = &r.body {
            return Err(if r.signer.key != *owner {
                Ignored::NotOwner
            } else if let Err(e) = r.body.check() {
                Ignored::Invalid(e.to_string())
            } else {
                Ignored::Resubmitted
            });
        }
        if !ancestry.saw(&r.id, &submission) {
            return Err(Ignored::BeforeSubmission);
        }
        if let Op::TaskCreated { .. } = &r.body
            && self.task.is_some()
        {
            return Err(Ignored::TaskRecorded);
        }
        // What the signer had seen: the counting records in its causal past.
        let seen = counted.iter().filter(|(id, _)| ancestry.saw(&r.id, id)).map(|(_, c)| c);
        self.judge_in(&Tally::of(&self.template, seen), &r.signer, &r.body)
    }

    /// Would a record `op` signed by `signer` now — having seen every
    /// record of the request — count? This is the rule
    /// [`Request::build`] applies, so a node refuses locally exactly what
    /// every node would ignore.
    pub fn judge(&self, signer: &Signer, op: &Op) -> Result<(), Ignored> {
        if let Op::Submit { .. } = op {
            return Err(if signer.key == self.applicant.key {
                Ignored::Resubmitted
            } else {
                Ignored::NotOwner
            });
        }
        let counted: Vec<Counted> = self
            .history
            .iter()
            .filter(|e| e.ignored.is_none())
            .filter_map(|e| match &e.op {
                Op::Submit { .. } => None,
                Op::Decide {
                    stage, step, approve, ..
                } => Some(Counted::Decision {
                    stage: usize::from(*stage),
                    step: usize::from(*step),
                    approve: *approve,
                }),
                Op::Withdraw => Some(Counted::Withdraw),
                Op::TaskCreated { .. } => Some(Counted::Task),
            })
            .collect();
        self.judge_in(&Tally::of(&self.template, counted.iter()), signer, op)
            .map(|_| ())
    }

    /// The rule for one record, given what its signer had seen.
    fn judge_in(&self, seen: &Tally, signer: &Signer, op: &Op) -> Result<Counted, Ignored> {
        match op {
            Op::Submit { .. } => Err(Ignored::Resubmitted),
            Op::Decide {
                stage, step, approve, ..
            } => {
                let (stage, step) = (usize::from(*stage), usize::from(*step));
                let s = self.template.step(stage, step).ok_or(Ignored::NoSuchStep)?;
                if signer.key == self.applicant.key {
                    return Err(Ignored::Applicant);
                }
                if !may_decide(&s.approvers, &self.applicant, signer) {
                    return Err(Ignored::NotEligible);
                }
                if seen.withdrawn {
                    return Err(Ignored::Withdrawn);
                }
                if seen.state() != State::Pending {
                    return Err(Ignored::Decided);
                }
                if seen.step(stage, step).is_some() {
                    return Err(Ignored::StepDecided);
                }
                if seen.active().is_some_and(|a| stage > a) {
                    return Err(Ignored::StageNotActive);
                }
                Ok(Counted::Decision {
                    stage,
                    step,
                    approve: *approve,
                })
            }
            Op::Withdraw => {
                if signer.key != self.applicant.key {
                    return Err(Ignored::NotApplicant);
                }
                if seen.withdrawn {
                    return Err(Ignored::Withdrawn);
                }
                if seen.state() != State::Pending {
                    return Err(Ignored::Decided);
                }
                Ok(Counted::Withdraw)
            }
            Op::TaskCreated { .. } => {
                if seen.task {
                    return Err(Ignored::TaskRecorded);
                }
                if seen.state() != State::Approved {
                    return Err(Ignored::NotApproved);
                }
                Ok(Counted::Task)
            }
        }
    }

    /// The steps waiting for a decision now: (stage, step).
    pub fn waiting(&self) -> Vec<(usize, usize)> {
        let Some(stage) = self.stage else { return Vec::new() };
        self.steps[stage]
            .iter()
            .enumerate()
            .filter(|(_, s)| s.state == StepState::Pending)
            .map(|(j, _)| (stage, j))
            .collect()
    }

    /// The steps `signer` may decide now.
    pub fn decidable_by(&self, signer: &Signer) -> Vec<(usize, usize)> {
        self.waiting()
            .into_iter()
            .filter(|&(i, j)| {
                let op = Op::Decide {
                    stage: i as u16,
                    step: j as u16,
                    approve: true,
                    comment: String::new(),
                };
                self.judge(signer, &op).is_ok()
            })
            .collect()
    }

    /// Who completed an approved request: the signer of the last counting
    /// decision in causal order. Their node records the task, if the
    /// template asks for one.
    pub fn completer(&self) -> Option<&Signer> {
        if self.state != State::Approved {
            return None;
        }
        self.history
            .iter()
            .rev()
            .find(|e| e.ignored.is_none() && matches!(e.op, Op::Decide { .. }))
            .map(|e| &e.signer)
    }
}

/// One record of the org's templates log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TemplateOp {
    /// Adds a template, or replaces the one of the same name (any case).
    Put(Template),
}

/// Why a template record had no effect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplateIgnored {
    /// Not signed by an admin.
    NotAdmin,
    /// The template is not valid.
    Invalid(String),
}

impl fmt::Display for TemplateIgnored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateIgnored::NotAdmin => f.write_str("only an admin's templates count"),
            TemplateIgnored::Invalid(why) => write!(f, "the template is not valid: {why}"),
        }
    }
}

/// A template as listed: built in, or added by an admin's record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// The template.
    pub template: Template,
    /// The record that added it; `None` for a built-in one.
    pub record: Option<RecordId>,
    /// Who added it.
    pub by: Option<Signer>,
}

/// The templates of the org: the built-in ones, replaced or joined by the
/// admins' records in causal order (a later record of the same name
/// replaces an earlier one).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Templates {
    /// By name in lower case.
    pub by_name: BTreeMap<String, Listed>,
    /// Records with no effect, and why.
    pub ignored: Vec<(RecordId, TemplateIgnored)>,
}

impl Templates {
    /// The templates `records` make, over the built-in ones.
    pub fn build(records: &[Record<TemplateOp>]) -> Templates {
        let mut t = Templates::default();
        for template in builtins() {
            t.by_name.insert(
                template.name.to_lowercase(),
                Listed {
                    template,
                    record: None,
                    by: None,
                },
            );
        }
        for r in causal_order(records) {
            let TemplateOp::Put(template) = &r.body;
            if r.signer.role != Role::Admin {
                t.ignored.push((r.id, TemplateIgnored::NotAdmin));
                continue;
            }
            if let Err(e) = template.check() {
                t.ignored.push((r.id, TemplateIgnored::Invalid(e.to_string())));
                continue;
            }
            t.by_name.insert(
                template.name.to_lowercase(),
                Listed {
                    template: template.clone(),
                    record: Some(r.id),
                    by: Some(r.signer.clone()),
                },
            );
        }
        t
    }

    /// The template named `name`, any case.
    pub fn get(&self, name: &str) -> Option<&Listed> {
        self.by_name.get(&name.trim().to_lowercase())
    }
}

#[cfg(test)]
mod tests;

//! Approval workflows on this node: templates, requests and decisions.
//!
//! A request is a log of signed records ([`Op`], kind `Approval`) in a
//! space of its own, made when it is submitted: its readers and writers are
//! the applicant, the members a step names, `role:ROLE` for a step decided
//! by a role, and the department heads of the applicant's department and
//! the departments above it, as the authorisation state names them at
//! submission (by key, so heads of other departments read nothing). Every
//! decision is one record signed by the approver; [`Request::build`]
//! decides, the same way on every node, which ones count (see
//! `outpost_workspace::approval`). This node refuses locally, saying why,
//! a decision or withdrawal the fold would ignore.
//!
//! The org's own templates are records (kind `Templates`) in one log with
//! the fixed id [`TEMPLATES_DOC`] in the scope every member reads; only
//! those an admin signed count.
//!
//! When this member's decision completes a request whose template creates
//! a task, this node adds the task to the project's board (through
//! [`Local::edit_board`]) and records [`Op::TaskCreated`]. The completer
//! is the signer of the last counting decision in causal order, so when
//! the last steps are decided concurrently on several nodes, the node of
//! the one the order puts last does it once the decisions meet
//! ([`follow_up`]).
//!
//! Every action is one [`ApprovalRequest`], answered as JSON by [`handle`]:
//! the CLI calls it directly when no node runs and through
//! `POST /api/approvals` when one does.

use crate::home::Passphrase;
use crate::local::Local;
use anyhow::{Context, Result, bail};
use outpost_identity::scope::{Principal, ScopeDef};
use outpost_identity::{AuthState, DeptPath, PublicKey, Role, RoleCert, Timestamp};
use outpost_seal::Keyring;
use outpost_seal::envelope::{DocId, EnvId};
use outpost_seal::replica::{DocKey, Replica};
use outpost_workspace::approval::{
    Approvers, Field, FieldKind, Ignored, Op, Request, Step, Template, TemplateOp, Templates, may_decide,
};
use outpost_workspace::record::{Record, RecordKind, Signer};
use outpost_workspace::tasks::{DESCRIPTION_BYTES_MAX, Edit, Priority, TITLE_BYTES_MAX};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The org's templates log: records of this id in a scope every member
/// reads, counting only when an admin signed them.
pub const TEMPLATES_DOC: DocId = DocId(*b"outpost template");
/// The name of every request's space, visible to every node of the org:
/// it never carries the request's title.
pub const REQUEST_SCOPE_NAME: &str = "approval request";
/// Fewest hex digits that name a request.
const PREFIX_MIN: usize = 4;

/// One approval action.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ApprovalRequest {
    /// Submits a request from a template.
    Submit {
        /// The template's name (any case).
        template: String,
        /// What the request is about.
        title: String,
        /// The applicant's values, by field name.
        #[serde(default)]
        fields: BTreeMap<String, String>,
    },
    /// Approves a step of a request.
    Approve {
        /// The request: a prefix of its id.
        request: String,
        /// The step's name; default: the one step this member may decide.
        #[serde(default)]
        step: Option<String>,
        /// Why.
        #[serde(default)]
        comment: String,
    },
    /// Rejects a step of a request, and so the request.
    Reject {
        /// The request: a prefix of its id.
        request: String,
        /// The step's name; default: the one step this member may decide.
        #[serde(default)]
        step: Option<String>,
        /// Why.
        #[serde(default)]
        comment: String,
    },
    /// Withdraws one's own request before its final decision.
    Withdraw {
        /// The request: a prefix of its id.
        request: String,
    },
    /// Where a request is, who must act, and its history.
    Status {
        /// The request: a prefix of its id.
        request: String,
    },
    /// The requests this member can read.
    List {
        /// Only those where this member can act now.
        #[serde(default)]
        inbox: bool,
        /// Only this member's own.
        #[serde(default)]
        mine: bool,
    },
    /// The templates: built in and the org's own.
    Templates,
    /// Adds a template, or replaces the one of its name (admins only).
    AddTemplate {
        /// The template.
        template: TemplateSpec,
    },
}

impl ApprovalRequest {
    /// Does the request write (and so need a durable commit before the answer)?
    pub fn writes(&self) -> bool {
        !matches!(
            self,
            ApprovalRequest::Status { .. } | ApprovalRequest::List { .. } | ApprovalRequest::Templates
        )
    }
}

/// A template as written in a file and sent to the API: approvers by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateSpec {
    /// Its name.
    pub name: String,
    /// The fields the applicant fills in.
    #[serde(default)]
    pub fields: Vec<FieldSpec>,
    /// Stages in order, each a list of steps decided in parallel.
    pub stages: Vec<Vec<StepSpec>>,
    /// A project (name or id) to add a task to once a request is approved.
    #[serde(default)]
    pub creates_task: Option<String>,
}

/// A field of a [`TemplateSpec`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldSpec {
    /// Its name.
    pub name: String,
    /// `text`, `number`, `date` or `money`; default `text`.
    #[serde(default = "text_kind")]
    pub kind: FieldKind,
    /// Must it be filled in?
    #[serde(default)]
    pub required: bool,
}

fn text_kind() -> FieldKind {
    FieldKind::Text
}

/// A step of a [`TemplateSpec`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepSpec {
    /// Its name, unique in the template.
    pub name: String,
    /// `"dept-head"`, `"role:ROLE"`, or a list of members (names or keys).
    pub approvers: ApproversSpec,
}

/// Who decides a step, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ApproversSpec {
    /// `"dept-head"` or `"role:ROLE"`.
    Rule(String),
    /// Members, by name or key.
    Members(Vec<String>),
}

/// What became of the task of a request a decision approved: `None`,
/// nothing to do; `Some(Ok((project, task)))`, added; `Some(Err(why))`,
/// not added (the approval stands).
type TaskOutcome = Option<Result<(String, String), String>>;

/// A request found on this node.
#[derive(Debug)]
struct Opened {
    key: DocKey,
    request: Request,
}

/// This member as the signer of a record written now.
fn me_as_signer(state: &AuthState, member: &PublicKey, now: Timestamp) -> Result<(Signer, RoleCert)> {
    let (id, cert) = state
        .role_of(member, now)
        .context("you hold no valid certificate: you cannot take part in approvals")?;
    Ok((
        Signer {
            key: member.0,
            cert: id.0,
            role: cert.role,
            dept: cert.dept.clone(),
        },
        cert.clone(),
    ))
}

/// The signer a live certificate makes.
fn signer_of(id: outpost_identity::OpId, cert: &RoleCert) -> Signer {
    Signer {
        key: cert.subject.0,
        cert: id.0,
        role: cert.role,
        dept: cert.dept.clone(),
    }
}

/// Live role certificates, but relays'.
fn live_certs(state: &AuthState, now: Timestamp) -> Vec<(outpost_identity::OpId, &RoleCert)> {
    state
        .role_certs()
        .filter(|(id, c)| c.role != Role::Relay && state.status(id, now).is_live())
        .collect()
}

/// Display names of every certified member, by key.
fn names(state: &AuthState) -> BTreeMap<[u8; 32], String> {
    state.role_certs().map(|(_, c)| (c.subject.0, c.name.clone())).collect()
}

fn dept_text(d: &DeptPath) -> String {
    if d.segments().is_empty() {
        "the whole org".to_owned()
    } else {
        d.to_string()
    }
}

/// Approvers as written in a template file, and read back by
/// [`template_of_spec`].
fn approvers_spec(a: &Approvers) -> Value {
    match a {
        Approvers::Role(r) => json!(format!("role:{r}")),
        Approvers::DeptHead => json!("dept-head"),
        Approvers::Members(keys) => json!(keys.iter().map(hex::encode).collect::<Vec<_>>()),
    }
}

/// Approvers for people: `dept-head`, `role:admin`, or the names.
fn approvers_text(a: &Approvers, names: &BTreeMap<[u8; 32], String>) -> String {
    match a {
        Approvers::Members(keys) => keys
            .iter()
            .map(|k| names.get(k).cloned().unwrap_or_else(|| hex::encode(&k[..4])))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

/// A template as JSON: the spec form (so it can be edited and added
/// again), plus names for people.
fn template_json(t: &Template, names: &BTreeMap<[u8; 32], String>) -> Value {
    json!({
        "name": t.name,
        "fields": t.fields.iter().map(|f| json!({"name": f.name, "kind": f.kind, "required": f.required})).collect::<Vec<_>>(),
        "stages": t.stages.iter().map(|stage| stage.iter().map(|s| json!({
            "name": s.name,
            "approvers": approvers_spec(&s.approvers),
            "approvers_text": approvers_text(&s.approvers, names),
        })).collect::<Vec<_>>()).collect::<Vec<_>>(),
        "creates_task": t.creates_task,
    })
}

/// Reads a template written with names into the stored form.
pub fn template_of_spec(spec: &TemplateSpec, state: &AuthState, now: Timestamp) -> Result<Template> {
    let fields = spec
        .fields
        .iter()
        .map(|f| Field {
            name: f.name.trim().to_owned(),
            kind: f.kind,
            required: f.required,
        })
        .collect();
    let mut stages = Vec::with_capacity(spec.stages.len());
    for stage in &spec.stages {
        let mut steps = Vec::with_capacity(stage.len());
        for s in stage {
            let approvers = match &s.approvers {
                ApproversSpec::Rule(r) => {
                    let r = r.trim();
                    if r.eq_ignore_ascii_case("dept-head") || r.eq_ignore_ascii_case("dept_head") {
                        Approvers::DeptHead
                    } else if let Some(role) = r.strip_prefix("role:").and_then(Role::parse) {
                        Approvers::Role(role)
                    } else {
                        Approvers::Members(vec![crate::chat::find_member(state, r, now).with_context(|| {
                            format!(
                                "step {:?}: approvers are \"dept-head\", \"role:ROLE\" or members (a list of names or keys), not {r:?}",
                                s.name
                            )
                        })?.0])
                    }
                }
                ApproversSpec::Members(list) => {
                    let mut keys = Vec::new();
                    for who in list {
                        let k = crate::chat::find_member(state, who, now)
                            .with_context(|| format!("step {:?}", s.name))?
                            .0;
                        if !keys.contains(&k) {
                            keys.push(k);
                        }
                    }
                    Approvers::Members(keys)
                }
            };
            steps.push(Step {
                name: s.name.trim().to_owned(),
                approvers,
            });
        }
        stages.push(steps);
    }
    let t = Template {
        name: spec.name.trim().to_owned(),
        fields,
        stages,
        creates_task: spec
            .creates_task
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned),
    };
    t.check()?;
    Ok(t)
}

impl Local {
    /// The org's templates: built in, and every admin's in the templates
    /// logs of scopes read by everyone (two admins may each have made one).
    pub fn approval_templates(&self, pass: &Passphrase) -> Result<Templates> {
        let member = self.member_keys(pass)?;
        let ring = self.keyring(&member, pass)?;
        let replica = self.replica()?;
        let state = replica.auth();
        let mut records = Vec::new();
        for doc in replica.docs() {
            let everyone = state.scope(&doc.0).is_some_and(|s| s.readers == [Principal::Everyone]);
            if doc.1 == TEMPLATES_DOC && everyone {
                records.extend(
                    self.records::<TemplateOp>(&replica, &ring, doc, RecordKind::Templates)
                        .unwrap_or_default(),
                );
            }
        }
        Ok(Templates::build(&records))
    }

    /// Every request this member can read.
    fn requests(&self, replica: &Replica, ring: &Keyring) -> Vec<Opened> {
        let state = replica.auth();
        let mut out = Vec::new();
        for key in self.record_logs(replica, ring, RecordKind::Approval) {
            if let Some(o) = open_log(self, replica, ring, state, key) {
                out.push(o);
            }
        }
        out
    }

    /// The request whose id starts with `text`.
    fn find_request(&self, text: &str, pass: &Passphrase) -> Result<Opened> {
        let t = text.trim().to_ascii_lowercase();
        if t.len() < PREFIX_MIN {
            bail!("no approval request {t:?}: give at least {PREFIX_MIN} hex digits of its id");
        }
        let member = self.member_keys(pass)?;
        let ring = self.keyring(&member, pass)?;
        let replica = self.replica()?;
        let keys: Vec<DocKey> = replica
            .docs()
            .filter(|d| d.1.to_hex().starts_with(&t))
            .copied()
            .collect();
        let mut found: Vec<Opened> = keys
            .into_iter()
            .filter_map(|k| open_log(self, &replica, &ring, replica.auth(), k))
            .collect();
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => bail!("no approval request {t:?} that you can read: see `outpost approval list`"),
            n => bail!("{t:?} names {n} approval requests: give more of its id"),
        }
    }

    /// Submits a request from `template` as this member: a new space for
    /// it and its first record. Returns the request's log.
    pub fn submit_approval(
        &mut self,
        template: &str,
        title: &str,
        fields: BTreeMap<String, String>,
        pass: &Passphrase,
        now: Timestamp,
    ) -> Result<DocKey> {
        let templates = self.approval_templates(pass)?;
        let t = templates
            .get(template)
            .with_context(|| {
                format!(
                    "no template {template:?}: the templates are {} (see `outpost approval template list`)",
                    templates
                        .by_name
                        .values()
                        .map(|l| l.template.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?
            .template
            .clone();
        let fields: BTreeMap<String, String> = fields
            .into_iter()
            .map(|(k, v)| {
                let k = k.trim();
                // Field names are matched in any case, stored as the template spells them.
                let name = t
                    .fields
                    .iter()
                    .find(|f| f.name.eq_ignore_ascii_case(k))
                    .map_or_else(|| k.to_owned(), |f| f.name.clone());
                (name, v.trim().to_owned())
            })
            .collect();
        let op = Op::Submit {
            title: title.trim().to_owned(),
            template: t.clone(),
            fields,
        };
        op.check()?;
        let state = self.require_org()?;
        let (me, _) = me_as_signer(state, &self.member, now)?;
        let readers = request_readers(state, &t, &me, now)?;
        let def = ScopeDef {
            name: REQUEST_SCOPE_NAME.to_owned(),
            readers: readers.clone(),
            writers: readers,
            nonce: rand::random(),
        };
        let scope = self.create_scope(def, pass, now)?;
        let key = (scope, DocId::generate(&mut rand::rng()));
        self.write_record(key, RecordKind::Approval, &op, pass, now)?;
        Ok(key)
    }

    /// Approves or rejects a step of the request `request` as this member,
    /// after checking, as every node will, that the decision would count.
    /// Returns the decision's record and, if it completed the request, what
    /// became of its task.
    fn decide_approval(
        &mut self,
        request: &str,
        step: Option<&str>,
        approve: bool,
        comment: String,
        pass: &Passphrase,
        now: Timestamp,
    ) -> Result<(DocKey, EnvId, TaskOutcome)> {
        let opened = self.find_request(request, pass)?;
        let req = &opened.request;
        let state = self.require_org()?;
        let (me, cert) = me_as_signer(state, &self.member, now)?;
        let verb = if approve { "approve" } else { "reject" };
        let (i, j) = match step {
            Some(name) => req.template.step_named(name).with_context(|| {
                format!(
                    "this request has no step {name:?}: its steps are {}",
                    req.template
                        .stages
                        .iter()
                        .flatten()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?,
            None => match req.decidable_by(&me).as_slice() {
                [one] => *one,
                [] => {
                    // Name the step the refusal is about: the first this
                    // member could ever decide (its stage not reached, or
                    // decided already), else the first waiting one.
                    let mine = req.template.stages.iter().enumerate().find_map(|(i, stage)| {
                        stage
                            .iter()
                            .position(|s| may_decide(&s.approvers, &req.applicant, &me))
                            .map(|j| (i, j))
                    });
                    mine.or_else(|| req.waiting().first().copied()).unwrap_or((0, 0))
                }
                many => bail!(
                    "you may decide several steps of this request ({}): give --step",
                    many.iter()
                        .map(|&(i, j)| req.template.stages[i][j].name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            },
        };
        let op = Op::Decide {
            stage: u16::try_from(i).expect("at most STAGES_MAX stages"),
            step: u16::try_from(j).expect("at most STEPS_MAX steps"),
            approve,
            comment,
        };
        op.check()?;
        if req.state != outpost_workspace::approval::State::Pending {
            bail!("you cannot {verb} this request: it was {} already", req.state.name());
        }
        if let Err(why) = req.judge(&me, &op) {
            bail!(
                "you cannot {verb} this request: {}",
                refusal(req, i, j, &why, &cert, state)
            );
        }
        let key = opened.key;
        let env = self.write_record(key, RecordKind::Approval, &op, pass, now)?;
        let task = self.complete_if_mine(key, pass, now)?;
        Ok((key, env, task))
    }

    /// If request `key` is approved, its template creates a task, none is
    /// recorded yet and this member completed it: adds the task and records
    /// it. `None` if there was nothing to do; `Some(Err(why))` if the task
    /// could not be added (the approval stands).
    fn complete_if_mine(&mut self, key: DocKey, pass: &Passphrase, now: Timestamp) -> Result<TaskOutcome> {
        let req = {
            let member = self.member_keys(pass)?;
            let ring = self.keyring(&member, pass)?;
            let replica = self.replica()?;
            match open_log(self, &replica, &ring, replica.auth(), key) {
                Some(o) => o.request,
                None => return Ok(None),
            }
        };
        let Some(project) = req.template.creates_task.clone() else {
            return Ok(None);
        };
        if req.task.is_some() || req.completer().is_none_or(|s| s.key != self.member.0) {
            return Ok(None);
        }
        let found = match self.find_project(&project, pass) {
            Ok(f) => f,
            Err(e) => return Ok(Some(Err(format!("the task was not created: {e:#}")))),
        };
        let task = crate::tasks::fresh_id();
        let edit = Edit::CreateTask {
            id: task.clone(),
            title: clip(&format!("{}: {}", req.template.name, req.title), TITLE_BYTES_MAX),
            description: clip(&task_description(&req, key), DESCRIPTION_BYTES_MAX),
            assignees: vec![hex::encode(req.applicant.key)],
            deadline: None,
            priority: Priority::Normal,
            labels: vec!["approval".to_owned()],
            column: None,
            created_by: String::new(),
            created_at: 0,
        };
        if let Err(e) = self.edit_board(found, vec![edit], pass) {
            return Ok(Some(Err(format!("the task was not created: {e:#}"))));
        }
        let project = found.key.1.to_hex();
        let record = Op::TaskCreated {
            project: project.clone(),
            task: task.clone(),
        };
        self.write_record(key, RecordKind::Approval, &record, pass, now)?;
        Ok(Some(Ok((project, task))))
    }

    /// The request `key` as JSON: the same on every node holding the same
    /// records and certificates (nothing in it depends on who asks).
    fn approval_status(&self, key: DocKey, req: &Request, now: Timestamp) -> Result<Value> {
        let replica = self.replica()?;
        let state = replica.auth();
        let names = names(state);
        let person = |s: &Signer| {
            json!({
                "member": hex::encode(s.key),
                "name": names.get(&s.key),
                "role": s.role.name(),
                "dept": s.dept.to_string(),
                "cert": hex::encode(s.cert),
            })
        };
        let stages: Vec<Value> = req
            .template
            .stages
            .iter()
            .enumerate()
            .map(|(i, stage)| {
                json!({
                    "stage": i + 1,
                    "steps": stage.iter().enumerate().map(|(j, s)| {
                        let view = &req.steps[i][j];
                        json!({
                            "name": s.name,
                            "approvers": approvers_spec(&s.approvers),
                            "approvers_text": approvers_text(&s.approvers, &names),
                            "state": view.state.name(),
                            "decisions": view.decisions.iter().map(hex::encode).collect::<Vec<_>>(),
                        })
                    }).collect::<Vec<_>>(),
                })
            })
            .collect();
        let def = state.scope(&key.0);
        let waiting: Vec<Value> = req
            .waiting()
            .into_iter()
            .map(|(i, j)| {
                let step = &req.template.stages[i][j];
                let mut who: Vec<(String, [u8; 32])> = live_certs(state, now)
                    .into_iter()
                    .filter(|(id, c)| {
                        may_decide(&step.approvers, &req.applicant, &signer_of(*id, c))
                            && def.is_some_and(|d| d.allows_read(&key.0, c))
                    })
                    .map(|(_, c)| (c.name.clone(), c.subject.0))
                    .collect();
                who.sort();
                who.dedup_by_key(|(_, k)| *k);
                json!({
                    "stage": i + 1,
                    "step": step.name,
                    "members": who.iter().map(|(n, k)| json!({"member": hex::encode(k), "name": n})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let history: Vec<Value> = req
            .history
            .iter()
            .map(|e| {
                let mut v = json!({
                    "record": hex::encode(e.id),
                    "signer": person(&e.signer),
                    "time": e.time,
                    "signature": replica.envelope(&EnvId(e.id)).map(|env| hex::encode(&env.bytes[env.bytes.len().saturating_sub(64)..])),
                    "counted": e.ignored.is_none(),
                    "ignored": e.ignored.as_ref().map(|why| json!({"code": why.code(), "reason": why.to_string()})),
                });
                match &e.op {
                    Op::Submit { title, template, .. } => {
                        v["action"] = json!("submit");
                        v["title"] = json!(title);
                        v["template"] = json!(template.name);
                    }
                    Op::Decide {
                        stage,
                        step,
                        approve,
                        comment,
                    } => {
                        v["action"] = json!(if *approve { "approve" } else { "reject" });
                        v["stage"] = json!(usize::from(*stage) + 1);
                        v["step"] = json!(req.template.step(usize::from(*stage), usize::from(*step)).map(|s| &s.name));
                        v["comment"] = json!(comment);
                    }
                    Op::Withdraw => v["action"] = json!("withdraw"),
                    Op::TaskCreated { project, task } => {
                        v["action"] = json!("task_created");
                        v["project"] = json!(project);
                        v["task"] = json!(task);
                    }
                }
                v
            })
            .collect();
        Ok(json!({
            "request": key.1.to_hex(),
            "space": key.0.to_hex(),
            "title": req.title,
            "template": template_json(&req.template, &names),
            "fields": req.fields,
            "applicant": person(&req.applicant),
            "submitted": req.submitted,
            "state": req.state.name(),
            "stage": req.stage.map(|s| s + 1),
            "stages": stages,
            "waiting_for": waiting,
            "history": history,
            "task": req.task.as_ref().map(|t| json!({"project": t.project, "task": t.task, "record": hex::encode(t.record)})),
        }))
    }

    /// The requests this member can read, newest first; `inbox`: only where
    /// they can act now; `mine`: only their own.
    fn list_approvals(&self, inbox: bool, mine: bool, pass: &Passphrase, now: Timestamp) -> Result<Value> {
        let member = self.member_keys(pass)?;
        let ring = self.keyring(&member, pass)?;
        let replica = self.replica()?;
        let state = replica.auth();
        let names = names(state);
        let me = me_as_signer(state, &self.member, now).ok().map(|(s, _)| s);
        let mut rows = Vec::new();
        for o in self.requests(&replica, &ring) {
            let req = &o.request;
            let can: Vec<String> = me
                .as_ref()
                .map(|m| req.decidable_by(m))
                .unwrap_or_default()
                .into_iter()
                .map(|(i, j)| req.template.stages[i][j].name.clone())
                .collect();
            let own = req.applicant.key == self.member.0;
            if (inbox && can.is_empty()) || (mine && !own) {
                continue;
            }
            rows.push((
                (std::cmp::Reverse(req.submitted), o.key.1.to_hex()),
                json!({
                    "request": o.key.1.to_hex(),
                    "title": req.title,
                    "template": req.template.name,
                    "state": req.state.name(),
                    "stage": req.stage.map(|s| s + 1),
                    "stages": req.template.stages.len(),
                    "applicant": {"member": hex::encode(req.applicant.key), "name": names.get(&req.applicant.key)},
                    "submitted": req.submitted,
                    "waiting": req.waiting().iter().map(|&(i, j)| req.template.stages[i][j].name.clone()).collect::<Vec<_>>(),
                    "mine": own,
                    "can_decide": can,
                }),
            ));
        }
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(json!({"requests": rows.into_iter().map(|(_, v)| v).collect::<Vec<_>>()}))
    }
}

/// Opens the approval log `key`, if it is one this member can read and it
/// holds a request by its space's owner.
fn open_log(local: &Local, replica: &Replica, ring: &Keyring, state: &AuthState, key: DocKey) -> Option<Opened> {
    let records: Vec<Record<Op>> = local.records(replica, ring, &key, RecordKind::Approval)?;
    let owner = state.scope_owner(&key.0)?;
    let request = Request::build(&records, &owner.0)?;
    Some(Opened { key, request })
}

/// Who reads and writes a new request's space: the applicant, named
/// members, `role:ROLE` for role steps, and the department heads of the
/// applicant's department and those above it (by key). Fails, naming the
/// step, if some step has nobody but the applicant to decide it.
fn request_readers(state: &AuthState, t: &Template, me: &Signer, now: Timestamp) -> Result<Vec<Principal>> {
    let mut out: BTreeSet<Principal> = BTreeSet::new();
    out.insert(Principal::Member(PublicKey(me.key)));
    let live = live_certs(state, now);
    for s in t.stages.iter().flatten() {
        let deciders: Vec<&RoleCert> = live
            .iter()
            .filter(|(id, c)| may_decide(&s.approvers, me, &signer_of(*id, c)))
            .map(|(_, c)| *c)
            .collect();
        if deciders.is_empty() {
            bail!(
                "nobody but you can decide step {:?} of template {:?} ({}): {}",
                s.name,
                t.name,
                s.approvers,
                match &s.approvers {
                    Approvers::DeptHead => format!(
                        "no department head of {} or a department above it holds a valid certificate",
                        dept_text(&me.dept)
                    ),
                    Approvers::Role(r) => format!("nobody else holds the role {r}"),
                    Approvers::Members(_) => "none of the members it names holds a valid certificate".to_owned(),
                }
            );
        }
        match &s.approvers {
            Approvers::Role(r) => {
                out.insert(Principal::Role(*r));
            }
            Approvers::DeptHead | Approvers::Members(_) => {
                out.extend(deciders.iter().map(|c| Principal::Member(c.subject)));
            }
        }
    }
    Ok(out.into_iter().collect())
}

/// Why this member's decision on step (i, j) would not count, for people.
fn refusal(req: &Request, i: usize, j: usize, why: &Ignored, cert: &RoleCert, state: &AuthState) -> String {
    let names = names(state);
    let step = &req.template.stages[i][j];
    match why {
        Ignored::NotEligible => format!(
            "step {:?} is decided by {}, and you are {} of {}",
            step.name,
            match &step.approvers {
                Approvers::DeptHead => format!(
                    "a department head of {} or a department above it",
                    dept_text(&req.applicant.dept)
                ),
                Approvers::Role(r) => format!("the holders of the role {r}"),
                Approvers::Members(_) => approvers_text(&step.approvers, &names),
            },
            cert.role,
            dept_text(&cert.dept)
        ),
        Ignored::StageNotActive => format!(
            "step {:?} is in stage {}, which is not reached yet: stage {} is waiting for {}",
            step.name,
            i + 1,
            req.stage.map_or(0, |s| s + 1),
            req.waiting()
                .iter()
                .map(|&(a, b)| req.template.stages[a][b].name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Ignored::StepDecided => format!("step {:?} was {} already", step.name, req.steps[i][j].state.name()),
        Ignored::Decided => format!("it was {} already", req.state.name()),
        other => other.to_string(),
    }
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// The description of the task an approved request makes: its fields, in
/// the template's order, and where it came from.
fn task_description(req: &Request, key: DocKey) -> String {
    let mut out = String::new();
    for f in &req.template.fields {
        if let Some(v) = req.fields.get(&f.name) {
            out.push_str(&format!("{}: {v}\n", f.name));
        }
    }
    out.push_str(&format!(
        "\nApproved request {} ({}).",
        key.1.to_hex(),
        req.template.name
    ));
    out
}

/// After envelopes of `docs` arrived from peers: completes the requests
/// among them whose completion falls to this member (see the module
/// docs). Returns how many tasks were added.
pub fn follow_up(local: &mut Local, pass: &Passphrase, docs: &[DocKey], now: Timestamp) -> Result<usize> {
    let mut added = 0;
    let mut seen = BTreeSet::new();
    for key in docs {
        if !seen.insert(*key) || key.1 == TEMPLATES_DOC {
            continue;
        }
        let is_request = {
            let member = local.member_keys(pass)?;
            let ring = local.keyring(&member, pass)?;
            let replica = local.replica()?;
            local.record_kind(&replica, &ring, key) == Some(RecordKind::Approval)
        };
        if !is_request {
            continue;
        }
        match local.complete_if_mine(*key, pass, now)? {
            Some(Ok((project, task))) => {
                tracing::info!(
                    "approval request {} approved: added task {task} to project {project}",
                    key.1.to_hex()
                );
                added += 1;
            }
            Some(Err(why)) => tracing::warn!("approval request {} approved: {why}", key.1.to_hex()),
            None => {}
        }
    }
    Ok(added)
}

/// Carries out `req` as this node's member and answers in JSON.
pub fn handle(local: &mut Local, pass: &Passphrase, req: ApprovalRequest) -> Result<Value> {
    let now = crate::now();
    match req {
        ApprovalRequest::Submit {
            template,
            title,
            fields,
        } => {
            let key = local.submit_approval(&template, &title, fields, pass, now)?;
            let o = local.find_request(&key.1.to_hex(), pass)?;
            let mut v = local.approval_status(o.key, &o.request, now)?;
            v["submitted_now"] = json!(true);
            Ok(v)
        }
        ApprovalRequest::Approve { request, step, comment } => {
            decided(local, pass, &request, step.as_deref(), true, comment, now)
        }
        ApprovalRequest::Reject { request, step, comment } => {
            decided(local, pass, &request, step.as_deref(), false, comment, now)
        }
        ApprovalRequest::Withdraw { request } => {
            let o = local.find_request(&request, pass)?;
            let state = local.require_org()?;
            let (me, _) = me_as_signer(state, &local.member, now)?;
            if let Err(why) = o.request.judge(&me, &Op::Withdraw) {
                let names = names(state);
                bail!(
                    "you cannot withdraw this request: {}",
                    match why {
                        Ignored::NotApplicant => format!(
                            "only its applicant ({}) may",
                            names
                                .get(&o.request.applicant.key)
                                .map_or("someone else", String::as_str)
                        ),
                        Ignored::Decided => format!("it was {} already", o.request.state.name()),
                        Ignored::Withdrawn => "it was withdrawn already".to_owned(),
                        other => other.to_string(),
                    }
                );
            }
            let env = local.write_record(o.key, RecordKind::Approval, &Op::Withdraw, pass, now)?;
            let o = local.find_request(&o.key.1.to_hex(), pass)?;
            let mut v = local.approval_status(o.key, &o.request, now)?;
            v["record"] = json!(hex::encode(env.0));
            Ok(v)
        }
        ApprovalRequest::Status { request } => {
            let o = local.find_request(&request, pass)?;
            local.approval_status(o.key, &o.request, now)
        }
        ApprovalRequest::List { inbox, mine } => local.list_approvals(inbox, mine, pass, now),
        ApprovalRequest::Templates => {
            let templates = local.approval_templates(pass)?;
            let state = local.require_org()?;
            let names = names(state);
            let list: Vec<Value> = templates
                .by_name
                .values()
                .map(|l| {
                    let mut v = template_json(&l.template, &names);
                    v["builtin"] = json!(l.record.is_none());
                    v["added_by"] = json!(
                        l.by.as_ref()
                            .map(|s| json!({"member": hex::encode(s.key), "name": names.get(&s.key)}))
                    );
                    v
                })
                .collect();
            Ok(json!({"templates": list}))
        }
        ApprovalRequest::AddTemplate { template } => {
            let state = local.require_org()?;
            let (me, _) = me_as_signer(state, &local.member, now)?;
            if me.role != Role::Admin {
                bail!("only an admin may add approval templates (you are {})", me.role);
            }
            let t = template_of_spec(&template, state, now)?;
            let scope = local.dept_scope(&DeptPath::root(), pass, now)?;
            let env = local.write_record(
                (scope, TEMPLATES_DOC),
                RecordKind::Templates,
                &TemplateOp::Put(t.clone()),
                pass,
                now,
            )?;
            let names = names(local.require_org()?);
            let mut v = template_json(&t, &names);
            v["record"] = json!(hex::encode(env.0));
            Ok(v)
        }
    }
}

/// Approves or rejects, and answers with the request as it now stands.
fn decided(
    local: &mut Local,
    pass: &Passphrase,
    request: &str,
    step: Option<&str>,
    approve: bool,
    comment: String,
    now: Timestamp,
) -> Result<Value> {
    let (key, env, task) = local.decide_approval(request, step, approve, comment, pass, now)?;
    let o = local.find_request(&key.1.to_hex(), pass)?;
    let mut v = local.approval_status(o.key, &o.request, now)?;
    v["record"] = json!(hex::encode(env.0));
    match task {
        Some(Ok(_)) => v["task_created"] = json!(true),
        Some(Err(why)) => v["task_error"] = json!(why),
        None => {}
    }
    Ok(v)
}

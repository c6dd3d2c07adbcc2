//! Library routes: spaces, documents and files (see [`crate::library`]).
//! Writes are durable before the answer.

use super::{ApiError, ApiResult};
use crate::daemon::Shared;
use crate::library::{FileUpload, LibraryRequest, MetaChange, Place};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use outpost_workspace::doc::Edit;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// Carries out a library action as `POST /api/library` does; the REST
/// routes are other spellings of the same actions. A write is durable
/// before the answer.
async fn act(shared: &Arc<Shared>, req: LibraryRequest) -> ApiResult {
    let writes = req.writes();
    let v = shared
        .with_local(move |l, pass| crate::library::handle(l, pass, req))
        .await?;
    if writes {
        shared.flush().await?;
    }
    Ok(Json(v))
}

/// `GET /api/library` query.
#[derive(Debug, Deserialize)]
pub struct LibraryQuery {
    /// List the trash instead.
    #[serde(default)]
    trash: bool,
}

pub async fn library(State(shared): State<Arc<Shared>>, Query(q): Query<LibraryQuery>) -> ApiResult {
    act(&shared, LibraryRequest::List { trash: q.trash }).await
}

pub async fn list_docs(State(shared): State<Arc<Shared>>) -> ApiResult {
    act(&shared, LibraryRequest::List { trash: false }).await
}

pub async fn spaces(State(shared): State<Arc<Shared>>) -> ApiResult {
    act(&shared, LibraryRequest::Spaces).await
}

/// `POST /api/spaces` body, and `POST /api/spaces/{space}/share` (without
/// the name).
#[derive(Debug, Deserialize)]
pub struct SpaceBody {
    /// The space's name (visible to every node of the org, relays
    /// included: keep secrets out of it).
    #[serde(default)]
    name: String,
    /// Who may read (view only): `everyone`, `dept:PATH`, `role:ROLE`,
    /// `member:KEY`.
    #[serde(default)]
    readers: Vec<String>,
    /// Who may edit.
    #[serde(default)]
    writers: Vec<String>,
}

pub async fn create_space(State(shared): State<Arc<Shared>>, Json(b): Json<SpaceBody>) -> ApiResult {
    let req = LibraryRequest::CreateSpace {
        name: b.name,
        readers: b.readers,
        writers: b.writers,
    };
    act(&shared, req).await
}

pub async fn share_space(
    State(shared): State<Arc<Shared>>,
    Path(space): Path<String>,
    Json(b): Json<SpaceBody>,
) -> ApiResult {
    let req = LibraryRequest::ShareSpace {
        space,
        readers: b.readers,
        writers: b.writers,
    };
    act(&shared, req).await
}

/// `POST /api/docs` body.
#[derive(Debug, Deserialize)]
pub struct NewDoc {
    /// The title.
    title: String,
    /// A department path: the document goes to that department's space.
    #[serde(default)]
    scope: Option<String>,
    /// Where: space and folder.
    #[serde(flatten)]
    place: Place,
    /// The body, as Markdown.
    #[serde(default)]
    markdown: Option<String>,
}

pub async fn new_doc(State(shared): State<Arc<Shared>>, Json(b): Json<NewDoc>) -> ApiResult {
    let mut place = b.place;
    if b.scope.is_some() {
        place.dept = b.scope;
    }
    let req = LibraryRequest::New {
        title: b.title,
        place,
        markdown: b.markdown,
        readers: Vec::new(),
        writers: Vec::new(),
    };
    act(&shared, req).await
}

pub async fn show_doc(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult {
    act(&shared, LibraryRequest::Show { id, at: None }).await
}

/// `POST /api/docs/{id}` body: `edits` (with `base`), or one of the
/// plain-text forms.
#[derive(Debug, Deserialize)]
pub struct EditDoc {
    /// Rich-text edits, applied as one change.
    #[serde(default)]
    edits: Option<Vec<Edit>>,
    /// The automerge heads the edits' positions refer to (hex); default:
    /// the document as it is now.
    #[serde(default)]
    base: Option<Vec<String>>,
    /// Replace the body's text.
    #[serde(default)]
    set_text: Option<String>,
    /// Append to the body.
    #[serde(default)]
    append: Option<String>,
    /// Append each text as its own change, in order, all stored at once
    /// (at most [`crate::docs::APPENDS_MAX`]); the answer lists the changes.
    #[serde(default)]
    appends: Option<Vec<String>>,
}

/// Parses hex automerge heads.
pub fn parse_heads(base: &[String]) -> anyhow::Result<Vec<[u8; 32]>> {
    base.iter()
        .map(|h| {
            hex::decode(h)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| anyhow::anyhow!("base head {h:?} is not 64 hex digits"))
        })
        .collect()
}

pub async fn edit_doc(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Json(req): Json<EditDoc>,
) -> ApiResult {
    let forms = [
        req.edits.is_some(),
        req.set_text.is_some(),
        req.append.is_some(),
        req.appends.is_some(),
    ];
    if forms.iter().filter(|f| **f).count() != 1 {
        return Err(anyhow::anyhow!("give exactly one of edits, set_text, append or appends").into());
    }
    if req.edits.is_none() && req.appends.is_none() {
        let plain = LibraryRequest::Edit {
            id,
            set_text: req.set_text,
            append: req.append,
        };
        return act(&shared, plain).await;
    }
    let v = shared
        .with_local(move |l, pass| {
            if let Some(edits) = &req.edits {
                let base = req.base.as_deref().map(parse_heads).transpose()?;
                let (key, env, after) = l.edit_text(&id, base.as_deref(), edits, pass)?;
                let mut v = crate::library::changed(env);
                v["id"] = json!(key.1.to_hex());
                v["heads"] = json!(after.heads.iter().map(hex::encode).collect::<Vec<_>>());
                v["text_len"] = json!(after.text_len);
                return Ok(v);
            }
            let texts = req.appends.unwrap_or_default();
            let (_, envs) = l.append_each(&id, &texts, pass)?;
            let changes: Vec<String> = envs.iter().map(|e| hex::encode(e.0)).collect();
            Ok(json!({"changed": !changes.is_empty(), "changes": changes}))
        })
        .await?;
    shared.flush().await?;
    Ok(Json(v))
}

pub async fn set_meta(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Json(m): Json<MetaChange>,
) -> ApiResult {
    act(&shared, LibraryRequest::Meta { id, change: m }).await
}

/// `POST /api/docs/{id}/move` body.
#[derive(Debug, Deserialize)]
pub struct MoveBody {
    /// The space to move to; default: the entry's own.
    #[serde(default)]
    space: Option<String>,
    /// The folder in that space.
    #[serde(default)]
    folder: String,
}

pub async fn move_entry(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Json(b): Json<MoveBody>,
) -> ApiResult {
    let req = LibraryRequest::Move {
        id,
        space: b.space,
        folder: b.folder,
    };
    act(&shared, req).await
}

pub async fn share_entry(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Json(b): Json<SpaceBody>,
) -> ApiResult {
    let req = LibraryRequest::Share {
        id,
        readers: b.readers,
        writers: b.writers,
    };
    act(&shared, req).await
}

pub async fn delete_entry(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult {
    act(&shared, LibraryRequest::Delete { id }).await
}

pub async fn history(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> ApiResult {
    act(&shared, LibraryRequest::History { id }).await
}

pub async fn at_version(State(shared): State<Arc<Shared>>, Path((id, at)): Path<(String, String)>) -> ApiResult {
    act(&shared, LibraryRequest::Show { id, at: Some(at) }).await
}

/// `GET /api/docs/{id}/diff` query.
#[derive(Debug, Deserialize)]
pub struct DiffQuery {
    /// The older version.
    from: String,
    /// The newer version; default: now.
    #[serde(default)]
    to: Option<String>,
}

pub async fn diff(State(shared): State<Arc<Shared>>, Path(id): Path<String>, Query(q): Query<DiffQuery>) -> ApiResult {
    act(
        &shared,
        LibraryRequest::Diff {
            id,
            from: q.from,
            to: q.to,
        },
    )
    .await
}

/// `POST /api/docs/{id}/restore` and `/versions` body.
#[derive(Debug, Deserialize)]
pub struct VersionBody {
    /// A version: change id or hash (or prefix), or a version name.
    #[serde(default)]
    at: Option<String>,
    /// The name to give (for `/versions`).
    #[serde(default)]
    name: Option<String>,
}

pub async fn restore(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Json(b): Json<VersionBody>,
) -> ApiResult {
    let at = b.at.ok_or_else(|| anyhow::anyhow!("give the version to restore: at"))?;
    act(&shared, LibraryRequest::Restore { id, at }).await
}

pub async fn name_version(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Json(b): Json<VersionBody>,
) -> ApiResult {
    let name = b.name.ok_or_else(|| anyhow::anyhow!("give the version's name"))?;
    act(&shared, LibraryRequest::NameVersion { id, name, at: b.at }).await
}

/// `POST /api/docs/{id}/import` body.
#[derive(Debug, Deserialize)]
pub struct ImportBody {
    /// The new body, as Markdown.
    markdown: String,
}

pub async fn import(State(shared): State<Arc<Shared>>, Path(id): Path<String>, Json(b): Json<ImportBody>) -> ApiResult {
    act(
        &shared,
        LibraryRequest::Import {
            id,
            markdown: b.markdown,
        },
    )
    .await
}

/// `GET /api/docs/{id}/export` query.
#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    /// `markdown`, `html` or `automerge`.
    #[serde(default = "markdown")]
    format: String,
}

fn markdown() -> String {
    "markdown".into()
}

pub async fn export(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let (bytes, media, name) = shared
        .with_local(move |l, pass| l.export_entry(&id, &q.format, pass))
        .await?;
    Ok(download(bytes, media, &name, false))
}

/// A response carrying a file.
fn download(bytes: Vec<u8>, media: &str, name: &str, inline: bool) -> Response {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!("{}; filename=\"{safe}\"", if inline { "inline" } else { "attachment" });
    // A preview runs no script in the page's origin: every file is
    // sandboxed, except a PDF shown inline, which the browser's own viewer
    // draws (a sandbox would stop it) and which `nosniff` keeps a PDF.
    let pdf = inline
        && media
            .split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/pdf"));
    let policy = if pdf {
        "frame-ancestors 'self'"
    } else {
        "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, media.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (header::CONTENT_SECURITY_POLICY, policy.to_owned()),
        ],
        bytes,
    )
        .into_response()
}

/// `POST /api/docs/{id}/presence` body.
#[derive(Debug, Deserialize)]
pub struct PresenceBody {
    /// What this editor says.
    #[serde(flatten)]
    beat: crate::presence::Beat,
}

pub async fn presence(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Json(b): Json<PresenceBody>,
) -> ApiResult {
    let key = shared
        .with_local(move |l, _| {
            let replica = l.replica()?;
            l.find_doc(&replica, &id)
        })
        .await?;
    shared.send_presence(key, b.beat).await?;
    Ok(Json(json!({"sent": true})))
}

/// `POST /api/files/upload` query: the file's name, and where it goes.
#[derive(Debug, Deserialize)]
pub struct UploadQuery {
    /// The file's name (its type is taken from it).
    name: String,
    /// Where: space and folder.
    #[serde(flatten)]
    place: Place,
    /// A file entry to add this as a new version of.
    #[serde(default)]
    to: Option<String>,
}

/// Reads a request body that arrives in an async task, from a blocking one.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<axum::body::Bytes>>,
    buf: axum::body::Bytes,
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.buf.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.buf = chunk?,
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        self.buf = self.buf.slice(n..);
        Ok(n)
    }
}

/// `POST /api/files/upload?name=…`: the body is the file (the web page's
/// upload). It is encrypted into the blob store as it arrives, checked
/// against the org's size and type limits (nothing is kept when it is
/// refused or the upload breaks off), then added like `put_file`.
pub async fn upload(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<UploadQuery>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> ApiResult {
    use futures::StreamExt;
    let name = q.name.trim().to_owned();
    if name.is_empty()
        || name.contains(['/', '\\'])
        || name == "."
        || name == ".."
        || name.chars().any(char::is_control)
    {
        return Err(anyhow::anyhow!("give the file's name (without folders) as name=").into());
    }
    let policy = shared.with_local(|l, pass| l.file_policy(pass, crate::now())).await?;
    policy.media_type(&name)?;
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        policy.check_size(&name, len)?;
    }
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let blobs = shared.blobs.clone();
    let sealing = tokio::task::spawn_blocking(move || {
        blobs.add(
            &mut ChannelReader {
                rx,
                buf: axum::body::Bytes::new(),
            },
            &policy,
        )
    });
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| std::io::Error::other(format!("the upload broke off: {e}")));
        let failed = chunk.is_err();
        if tx.send(chunk).await.is_err() || failed {
            // The sealer stopped (the file is over the limit) or the upload broke off.
            break;
        }
    }
    drop(tx);
    let (blob, key, _) = sealing
        .await
        .map_err(|e| anyhow::anyhow!("storing the upload failed: {e}"))??;
    let sealed = crate::chat::SealedFile {
        blob: hex::encode(blob.0),
        key: hex::encode(key.bytes()),
    };
    let req = LibraryRequest::PutFile(FileUpload {
        path: name,
        sealed: Some(sealed),
        place: q.place,
        to: q.to,
    });
    let added = act(&shared, req).await;
    if added.is_err() {
        // Not in the library: nothing refers to the blob.
        let _ = shared.blobs.remove(&blob);
    }
    added
}

pub async fn put_file(State(shared): State<Arc<Shared>>, Json(b): Json<FileUpload>) -> ApiResult {
    act(&shared, LibraryRequest::PutFile(b)).await
}

/// `GET /api/files/{id}/content` query, and `POST /api/files/{id}/save`
/// body.
#[derive(Debug, Deserialize)]
pub struct FileVersionQuery {
    /// Version number, 1 for the first; default: the current one.
    #[serde(default)]
    version: Option<usize>,
    /// Show in the page (`true`) rather than download.
    #[serde(default)]
    inline: bool,
    /// Where to write it (`/save`).
    #[serde(default)]
    out: Option<String>,
}

/// The attachment of a file version, fetched from peers as far as this
/// node lacks it.
async fn fetched(
    shared: &Arc<Shared>,
    id: String,
    version: Option<usize>,
) -> Result<outpost_workspace::file::FileVersion, ApiError> {
    let v = shared
        .with_local(move |l, pass| l.file_version(&id, version, pass))
        .await?;
    shared
        .fetch_blob(outpost_seal::blob::BlobId(v.file.blob), |_, _| {})
        .await?;
    Ok(v)
}

pub async fn file_content(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Query<FileVersionQuery>,
) -> Result<Response, ApiError> {
    let v = fetched(&shared, id, q.version).await?;
    let blobs = shared.blobs.clone();
    let a = v.file.clone();
    let bytes = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(a.bytes.min(64 << 20) as usize);
        blobs.open_to(
            &outpost_seal::blob::BlobId(a.blob),
            &outpost_seal::blob::FileKey::from_bytes(a.key),
            &mut out,
        )?;
        Ok(out)
    })
    .await
    .map_err(|e| anyhow::anyhow!("reading the file failed: {e}"))??;
    Ok(download(bytes, &v.file.media_type, &v.file.name, q.inline))
}

/// `GET /api/files/{id}/held`: how much of a file version this node holds
/// (a fetch from peers in progress shows here as it goes).
pub async fn file_held(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Query<FileVersionQuery>,
) -> ApiResult {
    let v = shared
        .with_local(move |l, pass| l.file_version(&id, q.version, pass))
        .await?;
    let blobs = shared.blobs.clone();
    let blob = outpost_seal::blob::BlobId(v.file.blob);
    let held = tokio::task::spawn_blocking(move || blobs.held(&blob))
        .await
        .map_err(|e| anyhow::anyhow!("reading the blob store failed: {e}"))??;
    let (held, bytes) = held.unwrap_or((0, v.file.bytes));
    Ok(Json(json!({"name": v.file.name, "bytes": bytes, "held": held})))
}

pub async fn save_file(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Json(q): Json<FileVersionQuery>,
) -> ApiResult {
    let out = q.out.clone().ok_or_else(|| {
        ApiError(
            StatusCode::BAD_REQUEST,
            "refused",
            "give out: where to write the file".into(),
        )
    })?;
    let v = fetched(&shared, id, q.version).await?;
    let blobs = shared.blobs.clone();
    let a = v.file.clone();
    let written =
        tokio::task::spawn_blocking(move || crate::blobs::save_attachment(&blobs, &a, std::path::Path::new(&out)))
            .await
            .map_err(|e| anyhow::anyhow!("writing the file failed: {e}"))??;
    Ok(Json(
        json!({"name": v.file.name, "bytes": written, "media_type": v.file.media_type}),
    ))
}

/// `POST /api/library`: any [`LibraryRequest`], as `{"action": "new", ...}`
/// (what the CLI sends). A file to save is first fetched from peers, as
/// far as this node lacks it.
pub async fn rpc(State(shared): State<Arc<Shared>>, Json(req): Json<LibraryRequest>) -> ApiResult {
    if let LibraryRequest::SaveFile { id, version, .. } = &req {
        fetched(&shared, id.clone(), *version).await?;
    }
    act(&shared, req).await
}

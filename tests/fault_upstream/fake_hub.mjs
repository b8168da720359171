// A fake Hugging Face Hub, for fault tests of `hubmirror sync`. Plain Node 20 (node:http only).
//
// It reproduces the real Hub's wire behaviour that a sync client has to survive (see
// hub-protocol.md §1.2, §2.1, §3.1, §3.2, §3.4, §4, §6 and the recorded samples in hub-samples/):
//
//  - Models and datasets (a RepoSpec's `type`): a dataset's routes are /api/datasets/{id}...,
//    /datasets/{id}/resolve/{rev}/{path} and /api/resolve-cache/datasets/...; its info has no
//    modelId, pipeline_tag, library_name, config, safetensors, spaces, baseModels or
//    childrenModelCount, nor base_model tags. A model and a dataset may share an id.
//  - Repo info: `GET /api/{models|datasets}/{id}` and `.../revision/{rev}` answer the Hub's
//    default payload (with `config` and `safetensors` when a model has them); with `expand=a` or
//    `expand[]=a` (repeatable) exactly `{_id, id}` plus the properties asked for, among them
//    `baseModels` ({relation, models: [{_id, id}]}, absent when the card names no base model),
//    `childrenModelCount`, `downloadsAllTime` and `trendingScore`, which the default payload lacks.
//    A value the Hub does not know for the repo's type (hub-protocol.md §3.1, model and dataset
//    expand values) is a 400. Requests are logged with route "revision" (or "info" without
//    /revision/{rev}), their `rev` and their `expand` values. A hub started with
//    `baseModels: false` never states `baseModels`, as a server that does not derive them, so that
//    a client has to read the lineage from the card and the tags.
//  - Flags and details: `author`, `createdAt`, `lastModified`, `private`, `disabled`, `gated`
//    (false, "auto" or "manual"), `likes`, `downloads`, `config`, `safetensors`, as each RepoSpec
//    sets them (else the defaults of fake_hub_repos.mjs). A private repo answers everything as a
//    missing repo (and is not listed) unless the request carries one of its `approvedTokens`. A
//    disabled repo keeps its info (`disabled: true`); its other routes answer as a missing repo
//    to anonymous callers and 403 "Access to this resource is disabled." (no X-Error-Code) to
//    others. (The real Hub's info of a disabled repo may be a 403 too: UNVERIFIED, see
//    hub-samples/errors_observed.json and huggingface_hub PR #1965.)
//  - Refs (fake_hub_refs.mjs): main is the RepoSpec's files; `refs` adds branches, tags, pull
//    requests and converts, each with files of its own (its own commit: the commit id derives from
//    the files) or sharing another revision's commit. `GET /api/{type}s/{id}/refs` answers
//    {branches, converts, tags} and `pullRequests` with `include_prs=1|true|True`, items
//    {name, ref, targetCommit} (route "refs"). Every revision-taking route (info, commits, tree,
//    resolve, resolve-cache) takes HEAD, a branch, a tag (a branch wins over a tag of the same
//    name), a full ref name percent-encoded in one segment (`refs%2Fpr%2F16`,
//    `refs%2Fheads%2Fdev`), `refs/pr/N` and `refs/convert/NAME` as literal segments, or the
//    40-hex id of any commit the repo ever had; anything else is 404 RevisionNotFound. Each ref's
//    files are served at that ref, as main's are. Tests move, add and delete refs and change
//    flags between two syncs with `setRef`, `deleteRef` and `updateRepo` (see startFakeHub).
//  - LFS files: `/resolve` answers 302 with an ABSOLUTE Location on a second server (the "CDN",
//    another port) whose URL carries a signed query string. X-Repo-Commit, X-Linked-Etag (the
//    sha256) and X-Linked-Size are on the 302 only. The CDN's own ETag is a Xet-style hash, not the
//    sha256, and the CDN refuses URLs whose signature is missing or altered.
//  - Small (git-stored) files: `/resolve` answers 307 with a RELATIVE Location to
//    `/api/resolve-cache/{type}s/{repo}/{commit}/{path}?...&etag=...` (resolve_observed-headers.json,
//    sample 2), which then answers 200 with X-Repo-Commit and ETag "<git blob sha1>".
//  - The recursive tree is paginated (2 entries a page by default) with an absolute
//    `Link: <...&cursor=...>; rel="next"`, and LFS entries carry `xetHash`.
//  - Errors as the Hub sends them: a missing repo is a bare 401 for anonymous callers and
//    404 RepoNotFound for authenticated ones; a gated repo ("auto" or "manual" alike) keeps its
//    info public, while its commits, tree, refs and files (configurable per repo) answer 401
//    GatedRepo without a token and 403 GatedRepo with a token that was not approved.
//  - Faults injected per repo and path (fake_hub_faults.mjs): 429 (Retry-After or RateLimit t=),
//    500, a truncated body (full Content-Length, half the bytes, then the socket is destroyed),
//    wrong bytes of the right length, and a stall (headers, then no byte). File bodies honour a
//    single `Range: bytes=a-` or bounded `bytes=a-b` with 206. A content fault given `at` (a byte
//    offset in the file) hits only responses whose bytes include that offset, so it can target one
//    chunk of a download made of parallel ranges; a truncation with `at` is cut right before that
//    byte.
//  - Signed CDN URLs that expire: with an "expire" fault, the CDN answers each signed URL of the
//    file only `uses` times, then 403 AccessDenied "Request has expired", as CloudFront does once a
//    URL's Expires has passed; a client has to go back to /resolve for a fresh signature.
//  - Lineage (hub-protocol.md §5): each repo's tags get `base_model:ID` and `base_model:RELATION:ID`
//    for every base model its card names (`cardData.base_model`, a string or a list), as the Hub
//    derives them: the relation is the card's `base_model_relation` when it is one of adapter,
//    merge, quantized, finetune, else inferred (two or more bases: merge; a gguf/gptq/awq/exl2/
//    bitsandbytes tag or a .gguf file: quantized; a lora/peft tag, library peft or an
//    adapter_config.json: adapter; else finetune). Ids that are not valid repo ids are left out;
//    an id naming a repo of this hub in another case is written as that repo's id (the Hub links
//    base models to repos), others as the card spells them, a self-reference included. The same
//    ids and relation make `baseModels`. `cardData` itself is served as written. Repo ids match
//    case-insensitively everywhere (the Hub's names are unique regardless of case); bodies carry
//    the canonical id. (How the real Hub treats case variants, self-references and ids it does not
//    have in tags and baseModels is UNVERIFIED; this is the harder case for a client: every odd
//    card reaches it.)
//  - Listings (§3.6): `GET /api/models` (and `/api/datasets`, whose items lack the model keys)
//    with `filter` (repeatable, every one must be among the repo's tags, a comma inside one value
//    meaning "and" too, so `base_model:quantized:ID` lists a model's quantized children), `search`
//    (substring of the id, any case), `author`, `sort` (downloads, likes, createdAt, lastModified,
//    trendingScore, id) with `direction` (-1 descending, the default; 1 ascending), `limit`,
//    `cardData=true` and `full=true`. Items have the Hub's default listing keys (_id, id, likes,
//    trendingScore, private, downloads, tags, pipeline_tag, library_name, createdAt, modelId).
//    Pages hold min(limit, listPageSize) items (2 by default) and continue with an absolute
//    `Link: <...&cursor=...>; rel="next"`; each listing request is logged with route "list", its
//    `filters` and `cursor`. Per-repo `downloads`, `likes`, `pipelineTag`, `libraryName` also
//    appear in the repo info.
//
// Every request is logged (both servers) with its route, repo type and id, revision and path, the
// bytes actually sent and when it started and ended (`startMs`, `endMs`: high-resolution
// milliseconds since the hub started), so tests can assert that retries happened, that resumes
// used Range, that no body was sent twice, that ranges were fetched in parallel, and where the
// Authorization header went.

import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:http";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";

import { pseudoRandomBytes } from "../support/harness.mjs";
import { FaultSet } from "./fake_hub_faults.mjs";
import { send } from "./fake_hub_http.mjs";
import { RepoSet } from "./fake_hub_repos.mjs";
import { handleCdn, handleHub } from "./fake_hub_routes.mjs";

export { corruptBytes } from "./fake_hub_faults.mjs";

/**
 * Starts the hub and its CDN on 127.0.0.1, both on port 0.
 * @param {{ repos?: import("./fake_hub_repos.mjs").RepoSpec[], pageSize?: number, listPageSize?: number, aliases?: Record<string, string>, baseModels?: boolean }} options
 *   pageSize: tree entries per page; listPageSize: /api/models items per page (at most `limit`);
 *   aliases: legacy or former ids, answered with a 307 to the canonical id; baseModels: whether
 *   the repo info states `baseModels` (default true).
 */
export async function startFakeHub({ repos = [], pageSize = 2, listPageSize = 2, aliases = {}, baseModels = true } = {}) {
	const hub = {
		repos: new RepoSet({ baseModels }),
		faults: new FaultSet(),
		hubUrl: "",
		cdnUrl: "",
		signingKey: randomBytes(32),
		pageSize,
		listPageSize,
		aliases,
		openStalls: new Set(),
		/** How many requests each signed CDN URL (its query string) was served, for "expire" faults. */
		signedUrlUses: new Map(),
	};
	/** @type {any[]} */
	const log = [];
	const started = Date.now();
	const startedHr = performance.now();

	const hubServer = createServer((req, res) => handle("hub", req, res));
	const cdnServer = createServer((req, res) => handle("cdn", req, res));
	hubServer.listen(0, "127.0.0.1");
	cdnServer.listen(0, "127.0.0.1");
	await Promise.all([once(hubServer, "listening"), once(cdnServer, "listening")]);
	hub.hubUrl = `http://127.0.0.1:${hubServer.address().port}`;
	hub.cdnUrl = `http://127.0.0.1:${cdnServer.address().port}`;
	for (const spec of repos) {
		hub.repos.add(spec);
	}

	function record(server, req) {
		const rec = {
			n: log.length + 1,
			server,
			method: req.method,
			url: req.url,
			route: "unknown",
			repoType: undefined, // "model" or "dataset", on the routes of a repo and on listings
			repo: undefined,
			rev: undefined, // the revision the URL names, decoded
			path: undefined,
			page: undefined,
			range: req.headers.range ?? null,
			authorization: req.headers.authorization ?? null,
			status: undefined,
			contentRange: undefined,
			bytesSent: 0,
			complete: false,
			fault: undefined,
			t: Date.now() - started,
			startMs: performance.now() - startedHr,
			endMs: undefined, // when the response closed (sent in full, or its connection gone)
		};
		log.push(rec);
		return rec;
	}

	function handle(server, req, res) {
		const rec = record(server, req);
		res.on("close", () => {
			rec.endMs = performance.now() - startedHr;
		});
		try {
			if (server === "cdn") {
				handleCdn(hub, req, res, rec);
			} else {
				handleHub(hub, req, res, rec);
			}
		} catch (err) {
			rec.error = String(err?.stack ?? err);
			if (!res.headersSent) {
				send(res, rec, 500, { "Content-Type": "text/plain" }, "fake hub bug: " + String(err));
			} else {
				res.destroy();
			}
		}
	}

	// --- queries for tests -------------------------------------------------------------------

	/** Logged requests matching every given field (server, route, repo, path, page, ...). */
	function requests(filter = {}) {
		return log.filter((rec) => Object.entries(filter).every(([k, v]) => rec[k] === v));
	}

	/** Body bytes of `path` written to clients by its 200 and 206 content responses (error bodies not counted). */
	function bytesServed(repo, path) {
		return log
			.filter((rec) => (rec.route === "cdn" || rec.route === "resolve-cache") && rec.repo === repo && rec.path === path)
			.filter((rec) => rec.status === 200 || rec.status === 206)
			.reduce((sum, rec) => sum + rec.bytesSent, 0);
	}

	/** One line a request, for test diagnostics (the CDN query string is shortened). */
	function describe() {
		return log.map((rec) => {
			const url = rec.server === "cdn" ? rec.url.replace(/\?.*$/, "?<signed>") : rec.url;
			const notes = [
				rec.range ? `Range: ${rec.range}` : "",
				rec.authorization ? "Authorization: Bearer ***" : "",
				rec.fault ? `fault=${rec.fault}` : "",
				rec.contentRange ? `Content-Range: ${rec.contentRange}` : "",
				rec.signatureError ? `signature: ${rec.signatureError}` : "",
				rec.link ? "Link: next" : "",
				rec.errorCode ? `X-Error-Code: ${rec.errorCode}` : "",
			].filter(Boolean);
			const span = rec.endMs !== undefined ? ` (${(rec.endMs - rec.startMs).toFixed(1)} ms)` : "";
			return `#${rec.n} +${rec.t}ms${span} ${rec.server} ${rec.method} ${url}${notes.length ? ` [${notes.join("; ")}]` : ""} -> ${rec.status ?? "(no status)"}, ${rec.bytesSent} body bytes${rec.complete ? "" : " (incomplete)"}`;
		});
	}

	async function close() {
		for (const res of hub.openStalls) {
			res.destroy();
		}
		for (const server of [hubServer, cdnServer]) {
			server.closeAllConnections();
			await new Promise((resolve) => server.close(() => resolve()));
		}
	}

	/** The repo of this id and type; throws when the hub has none. */
	function existing(id, type) {
		const repo = hub.repos.find(id, type);
		if (!repo) throw new Error(`the fake hub has no ${type} ${id}`);
		return repo;
	}

	// Every repo-taking method takes `type` last: "model" (the default) or "dataset".
	return {
		url: hub.hubUrl,
		cdnUrl: hub.cdnUrl,
		addRepo: (spec) => hub.repos.add(spec),
		/** The repo (its `sha`, `files` and `tree` are main's), or undefined. */
		repo: (id, type = "model") => hub.repos.find(id, type),
		/** The tags the hub serves for a repo (its own and the derived base_model ones). */
		tags: (id, type = "model") => hub.repos.tags(existing(id, type)),
		/** The commit ({ sha, files, tree }) a revision of the repo names now, or undefined. */
		commit: (id, rev, type = "model") => existing(id, type).git.resolve(rev),
		/**
		 * Adds or moves a ref: `ref` is a full ref name (refs/heads/B, refs/tags/T, refs/pr/N,
		 * refs/convert/C) or a branch name ("main" included); `target` is { files } (the commit of
		 * those files) or a revision of the repo (its commit now). Returns the ref's commit id.
		 */
		setRef: (id, ref, target, type = "model") => existing(id, type).git.set(ref, target).sha,
		/** Deletes a ref (named as for setRef; not main). Its commits stay reachable by id. */
		deleteRef: (id, ref, type = "model") => existing(id, type).git.delete(ref),
		/** Replaces flags and details of a repo: RepoSpec keys other than id, type, files and refs. */
		updateRepo: (id, changes, type = "model") => hub.repos.update(existing(id, type), changes),
		inject: (fault) => hub.faults.inject(fault),
		clearFaults: () => hub.faults.clear(),
		log,
		requests,
		bytesServed,
		describe,
		close,
	};
}

// `node fake_hub.mjs` runs a demo hub with one small repo, for poking at it with curl.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
	const hub = await startFakeHub({
		repos: [
			{
				id: "acme/demo",
				files: [
					{ path: "config.json", content: Buffer.from('{"hidden_size": 8}\n') },
					{ path: "model.safetensors", content: pseudoRandomBytes("demo", 4096), lfs: true },
				],
			},
		],
	});
	console.log(`hub ${hub.url}  cdn ${hub.cdnUrl}  repo acme/demo@${hub.repo("acme/demo").sha}`);
	process.on("SIGINT", async () => {
		await hub.close();
		process.exit(0);
	});
}

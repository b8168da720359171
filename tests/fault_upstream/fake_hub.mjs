// A fake Hugging Face Hub, for fault tests of `hubmirror sync`. Plain Node 20 (node:http only).
//
// It reproduces the real Hub's wire behaviour that a sync client has to survive (see
// hub-protocol.md §2.1, §3.2, §4, §6 and the recorded samples in hub-samples/):
//
//  - LFS files: `/resolve` answers 302 with an ABSOLUTE Location on a second server (the "CDN",
//    another port) whose URL carries a signed query string. X-Repo-Commit, X-Linked-Etag (the
//    sha256) and X-Linked-Size are on the 302 only. The CDN's own ETag is a Xet-style hash, not the
//    sha256, and the CDN refuses URLs whose signature is missing or altered.
//  - Small (git-stored) files: `/resolve` answers 307 with a RELATIVE Location to
//    `/api/resolve-cache/models/{repo}/{commit}/{path}?...&etag=...` (resolve_observed-headers.json,
//    sample 2), which then answers 200 with X-Repo-Commit and ETag "<git blob sha1>".
//  - The recursive tree is paginated (2 entries a page by default) with an absolute
//    `Link: <...&cursor=...>; rel="next"`, and LFS entries carry `xetHash`.
//  - Errors as the Hub sends them: a missing repo is a bare 401 for anonymous callers and
//    404 RepoNotFound for authenticated ones; a gated repo keeps its model info public, while its
//    commits, tree and files (configurable per repo) answer 401 GatedRepo without a token and
//    403 GatedRepo with a token that was not approved.
//  - Faults injected per repo and path: 429 (Retry-After or RateLimit t=), 500, a truncated body
//    (full Content-Length, half the bytes, then the socket is destroyed), wrong bytes of the right
//    length, and a stall (headers, then no byte). File bodies honour a single `Range: bytes=a-`
//    or bounded `bytes=a-b` with 206. A content fault given `at` (a byte offset in the file) hits
//    only responses whose bytes include that offset, so it can target one chunk of a download made
//    of parallel ranges; a truncation with `at` is cut right before that byte.
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
//    base models to repos), others as the card spells them, a self-reference included.
//    `cardData` itself is served as written. Repo ids match case-insensitively everywhere (the
//    Hub's names are unique regardless of case); bodies carry the canonical id. (How the real Hub
//    treats case variants and self-references in tags is UNVERIFIED; this is the harder case for
//    a client: every odd card reaches it.)
//  - Listings (§3.6): `GET /api/models` with `filter` (repeatable, every one must be among the
//    repo's tags, a comma inside one value meaning "and" too, so `base_model:quantized:ID` lists
//    a model's quantized children), `search` (substring of the id, any case), `author`, `sort`
//    (downloads, likes, createdAt, lastModified, trendingScore, id) with `direction` (-1
//    descending, the default; 1 ascending), `limit`, `cardData=true` and `full=true`. Items have
//    the Hub's default listing keys (_id, id, likes, trendingScore, private, downloads, tags,
//    pipeline_tag, library_name, createdAt, modelId). Pages hold min(limit, listPageSize) items
//    (2 by default) and continue with an absolute `Link: <...&cursor=...>; rel="next"`; each
//    listing request is logged with route "list", its `filters` and `cursor`. Per-repo
//    `downloads`, `likes`, `pipelineTag`, `libraryName` also appear in the repo info.
//
// Every request is logged (both servers), with the bytes actually sent and when it started and
// ended (`startMs`, `endMs`: high-resolution milliseconds since the hub started), so tests can
// assert that retries happened, that resumes used Range, that no body was sent twice, that ranges
// were fetched in parallel, and where the Authorization header went.

import { createHash, createHmac, createCipheriv, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { once } from "node:events";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";

// ---------------------------------------------------------------------------------------------
// Digests and content helpers (exported for the tests)
// ---------------------------------------------------------------------------------------------

export function sha256Hex(buf) {
	return createHash("sha256").update(buf).digest("hex");
}

/** git's blob id: sha1("blob <len>\0" + bytes). */
export function gitBlobSha1(buf) {
	return createHash("sha1").update(`blob ${buf.length}\0`).update(buf).digest("hex");
}

/** The git-lfs pointer text (LF endings, final LF; hub-protocol.md §6). */
export function lfsPointer(sha256, size) {
	return `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${size}\n`;
}

/** What the "wrong bytes" fault serves instead of a file: same length, every byte different. */
export function corruptBytes(buf) {
	const out = Buffer.from(buf);
	for (let i = 0; i < out.length; i++) {
		out[i] ^= 0xa5;
	}
	return out;
}

/** Deterministic pseudo-random bytes (AES-128-CTR keystream, IV derived from `seed`). */
export function pseudoRandomBytes(seed, size) {
	const iv = createHash("sha256").update(String(seed)).digest().subarray(0, 16);
	return createCipheriv("aes-128-ctr", Buffer.alloc(16, 0x3c), iv).update(Buffer.alloc(size));
}

/** A Xet-style content hash: 64 hex, deliberately NOT the sha256 of the bytes. */
function fakeXetHash(buf) {
	return createHash("sha256").update("fake-xet-merkle\0").update(buf).digest("hex");
}

const EXPOSE_HEADERS =
	"X-Repo-Commit,X-Request-Id,X-Error-Code,X-Error-Message,X-Total-Count,ETag,Link,Accept-Ranges," +
	"Content-Range,X-Linked-Size,X-Linked-ETag,X-Xet-Hash";

// ---------------------------------------------------------------------------------------------
// Repositories
// ---------------------------------------------------------------------------------------------

/**
 * @typedef {{ path: string, content: Buffer, lfs?: boolean }} FileSpec
 * @typedef {{
 *   id: string,                       // "namespace/name"
 *   files: FileSpec[],
 *   gated?: boolean,                  // the routes in gateOn need an approved token (model info stays public)
 *   gateOn?: string[],                // default ["commits", "tree", "resolve"] ("resolve" covers /api/resolve-cache)
 *   approvedTokens?: string[],        // tokens whose user accepted the gate
 *   cardData?: object, tags?: string[],  // tags: the card's own; base_model tags are derived from cardData
 *   downloads?: number, likes?: number,  // what the repo info and listings say (default 0)
 *   pipelineTag?: string | null,      // default "text-generation" (null: none)
 *   libraryName?: string | null,      // default "transformers" (null: none)
 *   pageSize?: number,                // tree entries per page (default: the hub's)
 *   treeLinkOrigin?: string,          // origin put in the tree's rel="next" links (default: the hub's own)
 * }} RepoSpec
 */

function buildRepo(spec, index) {
	const files = new Map();
	const commitHash = createHash("sha1").update(`fake commit\0${spec.id}\0`);
	for (const f of [...spec.files].sort((a, b) => (a.path < b.path ? -1 : 1))) {
		const content = Buffer.from(f.content);
		const sha256 = sha256Hex(content);
		const lfs = Boolean(f.lfs);
		const pointer = lfs ? lfsPointer(sha256, content.length) : undefined;
		const file = {
			path: f.path,
			content,
			size: content.length,
			lfs,
			sha256,
			gitSha1: gitBlobSha1(content),
			oid: lfs ? gitBlobSha1(Buffer.from(pointer)) : gitBlobSha1(content),
			pointerSize: lfs ? Buffer.byteLength(pointer) : undefined,
			xetHash: lfs ? fakeXetHash(content) : undefined,
		};
		files.set(f.path, file);
		commitHash.update(`${file.path}\0${file.oid}\0`);
	}
	const directories = new Set();
	for (const path of files.keys()) {
		const parts = path.split("/");
		for (let i = 1; i < parts.length; i++) {
			directories.add(parts.slice(0, i).join("/"));
		}
	}
	const tree = [];
	for (const dir of directories) {
		tree.push({
			type: "directory",
			oid: createHash("sha1").update(`tree\0${spec.id}\0${dir}`).digest("hex"),
			size: 0,
			path: dir,
		});
	}
	for (const file of files.values()) {
		const entry = { type: "file", oid: file.oid, size: file.size, path: file.path };
		if (file.lfs) {
			entry.lfs = { oid: file.sha256, size: file.size, pointerSize: file.pointerSize };
			entry.xetHash = file.xetHash;
		}
		tree.push(entry);
	}
	tree.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
	return {
		...spec,
		objectId: createHash("sha1").update(`repo\0${spec.id}`).digest("hex").slice(0, 24),
		index,
		sha: commitHash.digest("hex"),
		files,
		tree,
		cardData: spec.cardData ?? { license: "mit" },
		tags: spec.tags ?? ["safetensors", "license:mit", "region:us"],
		downloads: spec.downloads ?? 0,
		likes: spec.likes ?? 0,
		pipelineTag: spec.pipelineTag === undefined ? "text-generation" : spec.pipelineTag,
		libraryName: spec.libraryName === undefined ? "transformers" : spec.libraryName,
	};
}

const RELATIONS = ["adapter", "merge", "quantized", "finetune"];

/** A repo id as the Hub accepts one: `name` or `namespace/name`, each part [A-Za-z0-9._-], no `--` or `..`. */
export function isValidRepoId(id) {
	if (typeof id !== "string" || id.length > 96) return false;
	const parts = id.split("/");
	return (
		parts.length <= 2 &&
		parts.every((p) => /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/.test(p) && !p.includes("--") && !p.includes(".."))
	);
}

/** The base models a card names (string or list), valid ids only, as written. */
function cardBaseModels(cardData) {
	const raw = cardData?.base_model;
	const list = typeof raw === "string" ? [raw] : Array.isArray(raw) ? raw.filter((x) => typeof x === "string") : [];
	return list.filter(isValidRepoId);
}

/** The relation the Hub gives a repo's base models: declared, else inferred (hub-protocol.md §5). */
function baseModelRelation(repo, parents) {
	const declared = repo.cardData?.base_model_relation;
	if (RELATIONS.includes(declared)) return declared;
	if (parents.length >= 2) return "merge";
	const tags = new Set(repo.tags);
	const paths = [...repo.files.keys()];
	if (["gguf", "gptq", "awq", "exl2", "bitsandbytes"].some((t) => tags.has(t)) || paths.some((p) => p.toLowerCase().endsWith(".gguf"))) {
		return "quantized";
	}
	if (tags.has("lora") || tags.has("peft") || repo.libraryName === "peft" || paths.some((p) => p === "adapter_config.json" || p.endsWith("/adapter_config.json"))) {
		return "adapter";
	}
	return "finetune";
}

// ---------------------------------------------------------------------------------------------
// The fake hub
// ---------------------------------------------------------------------------------------------

/**
 * Starts the hub and its CDN on 127.0.0.1, both on port 0.
 * @param {{ repos?: RepoSpec[], pageSize?: number, listPageSize?: number, aliases?: Record<string, string> }} options
 *   pageSize: tree entries per page; listPageSize: /api/models items per page (at most `limit`).
 */
export async function startFakeHub({ repos = [], pageSize = 2, listPageSize = 2, aliases = {} } = {}) {
	const signingKey = randomBytes(32);
	/** @type {Map<string, ReturnType<typeof buildRepo>>} */
	const repoById = new Map();
	/** Lower-cased id -> repo: the Hub finds repos whatever the case of the id asked for. */
	const repoByLowerId = new Map();
	/** @type {any[]} */
	const log = [];
	/** @type {any[]} */
	const faults = [];
	const openStalls = new Set();
	/** How many requests each signed CDN URL (its query string) was served, for "expire" faults. */
	const signedUrlUses = new Map();
	const started = Date.now();
	const startedHr = performance.now();
	let requestCounter = 0;

	const hubServer = createServer((req, res) => handle("hub", req, res));
	const cdnServer = createServer((req, res) => handle("cdn", req, res));
	hubServer.listen(0, "127.0.0.1");
	cdnServer.listen(0, "127.0.0.1");
	await Promise.all([once(hubServer, "listening"), once(cdnServer, "listening")]);
	const hubUrl = `http://127.0.0.1:${hubServer.address().port}`;
	const cdnUrl = `http://127.0.0.1:${cdnServer.address().port}`;

	function addRepo(spec) {
		const repo = buildRepo(spec, repoById.size);
		repoById.set(spec.id, repo);
		repoByLowerId.set(spec.id.toLowerCase(), repo);
		return repo;
	}

	/** The repo with this id, in any case. */
	function findRepo(id) {
		return repoById.get(id) ?? repoByLowerId.get(String(id).toLowerCase());
	}

	/** A repo's tags as the Hub serves them: its own, then base_model:ID and base_model:RELATION:ID. */
	function repoTags(repo) {
		const tags = [...repo.tags];
		const parents = cardBaseModels(repo.cardData);
		if (parents.length > 0) {
			const relation = baseModelRelation(repo, parents);
			for (const written of parents) {
				const id = findRepo(written)?.id ?? written;
				for (const tag of [`base_model:${id}`, `base_model:${relation}:${id}`]) {
					if (!tags.includes(tag)) tags.push(tag);
				}
			}
		}
		return tags;
	}
	for (const spec of repos) {
		addRepo(spec);
	}

	// --- logging -------------------------------------------------------------------------

	function record(server, req) {
		const rec = {
			n: ++requestCounter,
			server,
			method: req.method,
			url: req.url,
			route: "unknown",
			repo: undefined,
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

	// --- faults --------------------------------------------------------------------------

	/**
	 * Adds a fault. `route`: "list" (the /api/models listing) | "revision" | "commits" | "tree" |
	 * "resolve" | "content" (the response that carries a file's bytes: the CDN for LFS files,
	 * /api/resolve-cache for the others).
	 * `kind`: "429" | "500" (any route); "truncate" | "stall" | "corrupt" | "expire" (content only;
	 * "expire" only on the CDN).
	 * `times`: how many requests it hits (default 1; Infinity for every time).
	 * 429 options: `retryAfter` (seconds, Retry-After header) or `rateLimitReset` (RateLimit t=).
	 * Content options: `at`, a byte offset of the file: only a response whose bytes include it is
	 * hit (a truncation then sends the bytes before it, and no more); "expire": `uses`, how many
	 * requests each signed URL of the file is served before it answers 403 (default 1).
	 */
	function inject(fault) {
		const f = { times: 1, ...fault, hits: 0 };
		if (!["list", "revision", "commits", "tree", "resolve", "content"].includes(f.route)) {
			throw new Error(`unknown fault route ${f.route}`);
		}
		if (!["429", "500", "truncate", "stall", "corrupt", "expire"].includes(f.kind)) {
			throw new Error(`unknown fault kind ${f.kind}`);
		}
		if (["truncate", "stall", "corrupt", "expire"].includes(f.kind) && f.route !== "content") {
			throw new Error(`${f.kind} faults apply to the content route only`);
		}
		const offsetFault = f.route === "content" && f.kind !== "expire";
		if (f.at !== undefined && !(offsetFault && Number.isInteger(f.at) && f.at >= 0)) {
			throw new Error("`at` is a byte offset, for content faults other than expire");
		}
		if (f.kind === "expire") {
			f.uses ??= 1;
		} else if (f.uses !== undefined) {
			throw new Error("only expire faults have `uses`");
		}
		if (f.path !== undefined && !["resolve", "content"].includes(f.route)) {
			throw new Error(`a ${f.route} fault has no path (use page for tree faults)`);
		}
		if (f.page !== undefined && !["tree", "list"].includes(f.route)) {
			throw new Error("only tree and list faults have a page");
		}
		if (f.route === "list" && f.repo !== undefined) {
			throw new Error("a list fault has no repo (give page to aim it)");
		}
		faults.push(f);
		return f;
	}

	/** Removes every fault (the upstream is repaired). */
	function clearFaults() {
		faults.length = 0;
	}

	/** The first unspent fault for this request (counted as a hit); `applies` filters further. */
	function takeFault(route, repo, path, page, applies = (f) => f.kind !== "expire") {
		for (const f of faults) {
			if (f.route !== route || f.repo !== repo || f.hits >= f.times) continue;
			if (f.path !== undefined && f.path !== path) continue;
			if (f.page !== undefined && f.page !== page) continue;
			if (!applies(f)) continue;
			f.hits++;
			return f;
		}
		return undefined;
	}

	// --- responses -----------------------------------------------------------------------

	function baseHeaders(server, bucket) {
		if (server === "cdn") {
			return {};
		}
		return {
			"Access-Control-Allow-Origin": "https://huggingface.co",
			"Access-Control-Expose-Headers": EXPOSE_HEADERS,
			Vary: "Origin",
			"X-Powered-By": "huggingface-moon",
			"X-Request-Id": `Root=1-${randomBytes(4).toString("hex")}-${randomBytes(12).toString("hex")}`,
			RateLimit: bucket === "resolvers" ? '"resolvers";r=2999;t=299' : '"api";r=499;t=299',
			"RateLimit-Policy":
				bucket === "resolvers" ? '"fixed window";"resolvers";q=3000;w=300' : '"fixed window";"api";q=500;w=300',
		};
	}

	function send(res, rec, status, headers, body = "") {
		const buf = Buffer.isBuffer(body) ? body : Buffer.from(body);
		rec.status = status;
		res.writeHead(status, { ...headers, "Content-Length": String(buf.length) });
		if (rec.method === "HEAD") {
			res.end();
			rec.complete = true;
			return;
		}
		res.end(buf, () => {
			rec.bytesSent += buf.length;
			rec.complete = true;
		});
	}

	function sendJson(res, rec, base, status, value, extra = {}) {
		send(res, rec, status, { ...base, "Content-Type": "application/json; charset=utf-8", ...extra }, JSON.stringify(value));
	}

	function sendError(res, rec, base, status, code, message, { api = true, extra = {} } = {}) {
		rec.errorCode = code;
		const headers = { ...base, ...extra, "X-Error-Message": message };
		if (code) {
			headers["X-Error-Code"] = code;
		}
		if (api) {
			sendJson(res, rec, headers, status, { error: message });
		} else {
			send(res, rec, status, { ...headers, "Content-Type": "text/plain; charset=utf-8" }, message);
		}
	}

	/** Applies a 429 or 500 fault; true when it answered. */
	function answerStatusFault(fault, res, rec, base, api) {
		rec.fault = fault.kind;
		if (fault.kind === "429") {
			const extra = {};
			if (fault.retryAfter !== undefined) {
				extra["Retry-After"] = String(fault.retryAfter);
			}
			if (fault.rateLimitReset !== undefined) {
				extra.RateLimit = `"${api ? "api" : "resolvers"}";r=0;t=${fault.rateLimitReset}`;
			}
			sendError(res, rec, { ...base, ...extra }, 429, "", "You have exceeded our rate limit. Please retry later.", {
				api,
			});
			return true;
		}
		if (fault.kind === "500") {
			sendError(res, rec, base, 500, "", "Internal Error - We're working hard to fix this as soon as possible!", {
				api,
			});
			return true;
		}
		return false;
	}

	/** The gate and the missing-repo rules of hub-protocol.md §4.2. Returns the repo, or undefined if it answered. */
	function authorizeRepo(req, res, rec, base, repoId, { api, gateRoute }) {
		const auth = req.headers.authorization;
		const token = auth && auth.startsWith("Bearer ") ? auth.slice(7) : undefined;
		const repo = findRepo(repoId);
		if (!repo) {
			if (!auth) {
				sendError(res, rec, base, 401, "", "Invalid username or password.", { api });
			} else {
				sendError(res, rec, base, 404, "RepoNotFound", "Repository not found", { api });
			}
			return undefined;
		}
		const gateOn = repo.gateOn ?? ["commits", "tree", "resolve"];
		const gatedHere = repo.gated && gateRoute !== undefined && gateOn.includes(gateRoute);
		if (gatedHere && !(token && (repo.approvedTokens ?? []).includes(token))) {
			if (!auth) {
				sendError(
					res,
					rec,
					base,
					401,
					"GatedRepo",
					`Access to model ${repo.id} is restricted. You must have access to it and be authenticated to access it. Please log in.`,
					{ api, extra: { "WWW-Authenticate": 'Bearer realm="Authentication required", charset="UTF-8"' } },
				);
			} else {
				sendError(
					res,
					rec,
					base,
					403,
					"GatedRepo",
					`Access to model ${repo.id} is restricted and you are not in the authorized list. Visit ${hubUrl}/${repo.id} to ask for access.`,
					{ api },
				);
			}
			return undefined;
		}
		return repo;
	}

	/** A commit-ish: the repo's sha, or a branch this fake knows (main, HEAD). */
	function resolveRev(repo, rev) {
		return rev === repo.sha || rev === "main" || rev === "HEAD" ? repo.sha : undefined;
	}

	/** Serves a file body (or its corruption), honouring a single `bytes=a-[b]` Range, with faults. */
	function serveContent(req, res, rec, headers, repo, file) {
		const size = file.size;
		let start = 0;
		let end = size - 1;
		let status = 200;
		let unsatisfiable = false;
		const range = req.headers.range;
		if (range !== undefined) {
			const m = /^bytes=(\d+)-(\d*)$/.exec(range.trim());
			if (m) {
				start = Number(m[1]);
				if (m[2] !== "") {
					end = Math.min(Number(m[2]), size - 1);
				}
				unsatisfiable = start >= size || start > end;
				status = 206;
			}
		}
		const fault = takeFault(
			"content",
			repo.id,
			file.path,
			undefined,
			(f) => f.kind !== "expire" && (f.at === undefined || (!unsatisfiable && f.at >= start && f.at <= end)),
		);
		if (fault && answerStatusFault(fault, res, rec, headers, false)) {
			return;
		}
		if (unsatisfiable) {
			rec.contentRange = `bytes */${size}`;
			send(res, rec, 416, { ...headers, "Content-Range": `bytes */${size}` });
			return;
		}
		const slice = file.content.subarray(start, end + 1);
		const body = fault?.kind === "corrupt" ? corruptBytes(slice) : slice;
		const out = { ...headers, "Content-Length": String(body.length), "Accept-Ranges": "bytes" };
		if (status === 206) {
			out["Content-Range"] = `bytes ${start}-${end}/${size}`;
			rec.contentRange = out["Content-Range"];
		}
		rec.status = status;
		rec.rangeStart = start;
		if (fault) {
			rec.fault = fault.kind;
		}
		if (req.method === "HEAD") {
			res.writeHead(status, out);
			res.end();
			rec.complete = true;
			return;
		}
		if (fault?.kind === "stall") {
			// Headers, then silence until the client gives up (or the hub is closed).
			res.writeHead(status, out);
			res.flushHeaders();
			openStalls.add(res);
			res.on("close", () => openStalls.delete(res));
			return;
		}
		if (fault?.kind === "truncate") {
			// The full Content-Length is promised, half (or up to `at`) is written and flushed, then
			// the socket dies.
			const cut = fault.at !== undefined ? fault.at - start : Math.floor(body.length / 2);
			res.writeHead(status, out);
			res.write(body.subarray(0, cut), () => {
				rec.bytesSent += cut;
				res.socket?.destroy();
			});
			return;
		}
		res.writeHead(status, out);
		res.end(body, () => {
			rec.bytesSent += body.length;
			rec.complete = true;
		});
	}

	function decodeSegments(segments) {
		try {
			return segments.map((s) => decodeURIComponent(s));
		} catch {
			return undefined;
		}
	}

	// --- signed CDN URLs -------------------------------------------------------------------

	function signCdnUrl(repo, file) {
		const path = `/xet-bridge-us/${repo.objectId}/${file.xetHash}`;
		const expires = Math.floor(Date.now() / 1000) + 3600;
		const policy = Buffer.from(JSON.stringify({ Statement: [{ Resource: `${cdnUrl}${path}*` }] })).toString("base64url");
		const signature = createHmac("sha256", signingKey).update(`${path}\n${expires}\n${policy}`).digest("base64url");
		const query = new URLSearchParams({
			"X-Xet-Signed-Range": `bytes=0-${Math.max(file.size - 1, 0)}`,
			"X-Xet-Session-Id": randomBytes(8).toString("hex"),
			"X-Xet-Cas-Uid": "public",
			Expires: String(expires),
			Policy: policy,
			Signature: signature,
			"Key-Pair-Id": "KFAKEPAIR0CDN1",
		});
		return `${cdnUrl}${path}?${query}`;
	}

	function checkCdnSignature(url) {
		const q = url.searchParams;
		const expires = q.get("Expires");
		const policy = q.get("Policy");
		const signature = q.get("Signature");
		if (!expires || !policy || !signature || !q.get("Key-Pair-Id")) {
			return "Missing Key-Pair-Id query parameter or cookie value";
		}
		const want = createHmac("sha256", signingKey).update(`${url.pathname}\n${expires}\n${policy}`).digest("base64url");
		if (want !== signature) {
			return "Invalid signature";
		}
		if (Number(expires) * 1000 < Date.now()) {
			return "Request has expired";
		}
		return undefined;
	}

	// --- routing -----------------------------------------------------------------------------

	function handle(server, req, res) {
		const rec = record(server, req);
		res.on("close", () => {
			rec.endMs = performance.now() - startedHr;
		});
		try {
			if (server === "cdn") {
				handleCdn(req, res, rec);
			} else {
				handleHub(req, res, rec);
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

	function handleCdn(req, res, rec) {
		rec.route = "cdn";
		const url = new URL(req.url, cdnUrl);
		const m = /^\/xet-bridge-us\/([0-9a-f]{24})\/([0-9a-f]{64})$/.exec(url.pathname);
		const denied = (message) =>
			send(
				res,
				rec,
				403,
				{ "Content-Type": "text/xml" },
				`<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>${message}</Message></Error>`,
			);
		if (!m || !["GET", "HEAD"].includes(req.method)) {
			denied("Access denied");
			return;
		}
		let found;
		for (const repo of repoById.values()) {
			if (repo.objectId !== m[1]) continue;
			for (const file of repo.files.values()) {
				if (file.lfs && file.xetHash === m[2]) {
					found = { repo, file };
				}
			}
		}
		if (found) {
			rec.repo = found.repo.id;
			rec.path = found.file.path;
		}
		const bad = checkCdnSignature(url);
		if (bad) {
			rec.signatureError = bad;
			denied(bad);
			return;
		}
		if (!found) {
			denied("Access denied");
			return;
		}
		// A signed URL served `uses` times has expired (CloudFront checks Expires on every request).
		// Keyed by the whole query: two redirects in the same second share a Signature, not a session.
		const uses = signedUrlUses.get(url.search) ?? 0;
		const expiry = takeFault(
			"content",
			found.repo.id,
			found.file.path,
			undefined,
			(f) => f.kind === "expire" && uses >= f.uses,
		);
		if (expiry) {
			rec.fault = expiry.kind;
			rec.signatureError = "Request has expired";
			denied(rec.signatureError);
			return;
		}
		signedUrlUses.set(url.search, uses + 1);
		// None of the Hub's X- headers; the ETag is the Xet hash (resolve_observed-headers.json, hop2_cdn).
		serveContent(req, res, rec, {
			"Content-Type": "application/octet-stream",
			ETag: `"${found.file.xetHash}"`,
			"Cache-Control": "public, max-age=604800, immutable",
			"Last-Modified": "Tue, 01 Oct 2024 00:00:00 GMT",
			"X-Hf-Cdn-Pop": "fake-pop-1",
		}, found.repo, found.file);
	}

	function handleHub(req, res, rec) {
		const url = new URL(req.url, hubUrl);
		const raw = url.pathname.split("/").slice(1);
		const api = raw[0] === "api";
		const base = baseHeaders("hub", api && raw[1] !== "resolve-cache" ? "api" : "resolvers");

		// Legacy ids and renamed repos: a relative 307 to the canonical id, the rest of the URL kept
		// (hub-samples/model-info_307-redirect_bert-base-uncased.json).
		const idStart = api && raw[1] === "models" ? 2 : api ? -1 : 0;
		if (idStart >= 0) {
			for (const length of [1, 2]) {
				const id = raw.slice(idStart, idStart + length).join("/");
				if (raw.length >= idStart + length && Object.hasOwn(aliases, id)) {
					rec.route = "alias";
					rec.repo = id;
					const rest = raw.slice(idStart + length);
					const location = "/" + [...raw.slice(0, idStart), aliases[id], ...rest].join("/") + url.search;
					send(res, rec, 307, { ...base, "Content-Type": "text/plain; charset=utf-8", Location: location },
						`Temporary Redirect. Redirecting to ${location}`);
					return;
				}
			}
		}

		// /api/resolve-cache/models/{ns}/{name}/{commit}/{path...}
		if (api && raw[1] === "resolve-cache" && raw[2] === "models" && raw.length >= 7) {
			rec.route = "resolve-cache";
			const segments = decodeSegments(raw.slice(6));
			const repoId = `${raw[3]}/${raw[4]}`;
			rec.repo = repoId;
			rec.path = segments?.join("/");
			const repo = authorizeRepo(req, res, rec, base, repoId, { api: false, gateRoute: "resolve" });
			if (!repo) return;
			const commit = resolveRev(repo, raw[5]);
			const file = rec.path !== undefined ? repo.files.get(rec.path) : undefined;
			if (!commit) {
				sendError(res, rec, base, 404, "RevisionNotFound", `Invalid rev id: ${raw[5]}`, { api: false });
				return;
			}
			if (!file || file.lfs) {
				sendError(res, rec, base, 404, "EntryNotFound", "Entry not found", {
					api: false,
					extra: { "X-Repo-Commit": repo.sha },
				});
				return;
			}
			serveContent(req, res, rec, {
				...base,
				"Content-Type": "text/plain; charset=utf-8",
				"X-Repo-Commit": repo.sha,
				ETag: `"${file.oid}"`,
				"Cache-Control": "private, max-age=31536000, immutable",
			}, repo, file);
			return;
		}

		// /api/models: the listing and search (hub-protocol.md §3.6)
		if (api && raw[1] === "models" && (raw.length === 2 || (raw.length === 3 && raw[2] === ""))) {
			handleListing(req, res, rec, base, url);
			return;
		}

		// /api/models/{ns}/{name}/{revision|commits|tree|xet-read-token}/{rev}[/...]
		if (api && raw[1] === "models" && raw.length >= 6) {
			const repoId = `${raw[2]}/${raw[3]}`;
			const what = raw[4];
			const rev = decodeURIComponent(raw[5]);
			rec.repo = repoId;
			if (what === "revision") {
				rec.route = "revision";
				const repo = authorizeRepo(req, res, rec, base, repoId, { api: true });
				if (!repo) return;
				const fault = takeFault("revision", repoId, undefined, undefined);
				if (fault && answerStatusFault(fault, res, rec, base, true)) return;
				const sha = resolveRev(repo, rev);
				if (!sha) {
					sendError(res, rec, base, 404, "RevisionNotFound", `Invalid rev id: ${rev}`);
					return;
				}
				sendJson(res, rec, base, 200, {
					_id: repo.objectId,
					id: repo.id,
					modelId: repo.id,
					author: repo.id.split("/")[0],
					sha,
					lastModified: "2024-10-01T00:00:00.000Z",
					createdAt: "2024-09-01T00:00:00.000Z",
					private: false,
					disabled: false,
					gated: repo.gated ? "manual" : false,
					downloads: repo.downloads,
					likes: repo.likes,
					...(repo.libraryName !== null ? { library_name: repo.libraryName } : {}),
					...(repo.pipelineTag !== null ? { pipeline_tag: repo.pipelineTag } : {}),
					tags: repoTags(repo),
					cardData: repo.cardData,
					siblings: [...repo.files.keys()].map((p) => ({ rfilename: p })),
					spaces: [],
					usedStorage: [...repo.files.values()].reduce((s, f) => s + f.size, 0),
				});
				return;
			}
			if (what === "commits") {
				rec.route = "commits";
				const repo = authorizeRepo(req, res, rec, base, repoId, { api: true, gateRoute: "commits" });
				if (!repo) return;
				const fault = takeFault("commits", repoId, undefined, undefined);
				if (fault && answerStatusFault(fault, res, rec, base, true)) return;
				const sha = resolveRev(repo, rev);
				if (!sha) {
					sendError(res, rec, base, 404, "RevisionNotFound", `Invalid rev id: ${rev}`);
					return;
				}
				sendJson(
					res,
					rec,
					base,
					200,
					[
						{
							id: sha,
							title: `Upload ${repo.id.split("/")[1]}`,
							message: `Upload ${repo.id.split("/")[1]}\n`,
							authors: [{ user: "acme-bot", avatar: "" }],
							date: "2024-10-01T12:34:56.000Z",
						},
					],
					{ "X-Total-Count": "1" },
				);
				return;
			}
			if (what === "tree") {
				rec.route = "tree";
				const repo = authorizeRepo(req, res, rec, base, repoId, { api: true, gateRoute: "tree" });
				if (!repo) return;
				const sha = resolveRev(repo, rev);
				const size = repo.pageSize ?? pageSize;
				let offset = 0;
				const cursor = url.searchParams.get("cursor");
				if (cursor !== null) {
					try {
						offset = JSON.parse(Buffer.from(cursor, "base64url").toString()).o;
					} catch {
						offset = NaN;
					}
					if (!Number.isInteger(offset) || offset < 0 || offset >= repo.tree.length) {
						sendError(res, rec, base, 400, "", "Invalid cursor");
						return;
					}
				}
				rec.page = Math.floor(offset / size);
				const fault = takeFault("tree", repoId, undefined, rec.page);
				if (fault && answerStatusFault(fault, res, rec, base, true)) return;
				if (!sha) {
					sendError(res, rec, base, 404, "RevisionNotFound", `Invalid rev id: ${rev}`);
					return;
				}
				if (raw.length > 6 && raw.slice(6).join("/") !== "") {
					sendError(res, rec, base, 404, "EntryNotFound", "Entry not found");
					return;
				}
				const page = repo.tree.slice(offset, offset + size);
				const extra = {};
				if (offset + size < repo.tree.length) {
					const next = new URL(url.pathname + url.search, repo.treeLinkOrigin ?? hubUrl);
					next.searchParams.set("cursor", Buffer.from(JSON.stringify({ o: offset + size, r: randomBytes(3).toString("hex") })).toString("base64url"));
					extra.Link = `<${next.href}>; rel="next"`;
					rec.link = extra.Link;
				}
				sendJson(res, rec, base, 200, page, extra);
				return;
			}
			rec.route = what;
			sendError(res, rec, base, 404, "", "Sorry, we can't find the page you are looking for.");
			return;
		}

		// /{ns}/{name}/resolve/{rev}/{path...}
		if (!api && raw.length >= 5 && raw[2] === "resolve") {
			rec.route = "resolve";
			const repoId = `${raw[0]}/${raw[1]}`;
			const rev = decodeURIComponent(raw[3]);
			const segments = decodeSegments(raw.slice(4));
			rec.repo = repoId;
			rec.path = segments?.join("/");
			const repo = authorizeRepo(req, res, rec, base, repoId, { api: false, gateRoute: "resolve" });
			if (!repo) return;
			const fault = takeFault("resolve", repoId, rec.path, undefined);
			if (fault && answerStatusFault(fault, res, rec, base, false)) return;
			const sha = resolveRev(repo, rev);
			if (!sha) {
				sendError(res, rec, base, 404, "RevisionNotFound", `Invalid rev id: ${rev}`, { api: false });
				return;
			}
			const file = rec.path !== undefined ? repo.files.get(rec.path) : undefined;
			if (!file) {
				sendError(res, rec, base, 404, "EntryNotFound", "Entry not found", {
					api: false,
					extra: { "X-Repo-Commit": sha },
				});
				return;
			}
			const encodedPath = file.path.split("/").map(encodeURIComponent).join("/");
			if (file.lfs) {
				// resolve_observed-headers.json, samples 5-7: absolute 302 to the CDN, X-Linked-* here only.
				const location = signCdnUrl(repo, file);
				rec.location = location;
				send(
					res,
					rec,
					302,
					{
						...base,
						"Content-Type": "text/plain; charset=utf-8",
						Location: location,
						"X-Repo-Commit": sha,
						"X-Linked-Etag": `"${file.sha256}"`,
						"X-Linked-Size": String(file.size),
						"X-Xet-Hash": file.xetHash,
						Link: `<${hubUrl}/api/models/${repo.id}/xet-read-token/${sha}>; rel="xet-auth"`,
						"Accept-Ranges": "bytes",
					},
					`Found. Redirecting to ${location}`,
				);
				return;
			}
			// resolve_observed-headers.json, sample 2: relative 307 to /api/resolve-cache, commit and etag in the URL.
			const original = encodeURIComponent(`/${repo.id}/resolve/${rev}/${file.path}`);
			const location = `/api/resolve-cache/models/${repo.id}/${sha}/${encodedPath}?${original}=&etag=%22${file.oid}%22`;
			rec.location = location;
			send(
				res,
				rec,
				307,
				{ ...base, "Content-Type": "text/plain; charset=utf-8", Location: location },
				`Temporary Redirect. Redirecting to ${location}`,
			);
			return;
		}

		rec.route = "unknown";
		sendError(res, rec, base, 404, "", "Sorry, we can't find the page you are looking for.", { api });
	}

	// --- listing -------------------------------------------------------------------------------

	/** One listing item: the Hub's default keys, in its order; cardData and full=true add more. */
	function listingItem(repo, { withCard, full }) {
		const item = {
			_id: repo.objectId,
			id: repo.id,
			likes: repo.likes,
			trendingScore: 0,
			private: false,
			downloads: repo.downloads,
			tags: repoTags(repo),
			...(repo.pipelineTag !== null ? { pipeline_tag: repo.pipelineTag } : {}),
			...(repo.libraryName !== null ? { library_name: repo.libraryName } : {}),
			createdAt: new Date(Date.UTC(2024, 8, 1) + repo.index * 3_600_000).toISOString(),
			modelId: repo.id,
		};
		if (full) {
			Object.assign(item, {
				author: repo.id.split("/")[0],
				sha: repo.sha,
				lastModified: "2024-10-01T00:00:00.000Z",
				gated: repo.gated ? "manual" : false,
				disabled: false,
				siblings: [...repo.files.keys()].map((p) => ({ rfilename: p })),
			});
		}
		if (withCard || full) item.cardData = repo.cardData;
		return item;
	}

	function handleListing(req, res, rec, base, url) {
		rec.route = "list";
		const q = url.searchParams;
		// Several filters must all match; a comma inside one value is believed to mean "and" too.
		rec.filters = q.getAll("filter").flatMap((f) => f.split(",")).filter(Boolean);
		rec.sort = q.get("sort");
		rec.direction = q.get("direction");
		rec.limit = q.get("limit");
		let size = listPageSize;
		if (q.has("limit")) {
			const limit = Number(q.get("limit"));
			if (!Number.isInteger(limit) || limit < 1) {
				sendError(res, rec, base, 400, "", `Invalid limit: ${q.get("limit")}`);
				return;
			}
			size = Math.min(size, limit);
		}
		const sortKeys = {
			downloads: (r) => r.downloads,
			likes: (r) => r.likes,
			trendingScore: () => 0,
			createdAt: (r) => r.index,
			lastModified: (r) => r.index,
			id: (r) => r.id.toLowerCase(),
		};
		const sort = q.get("sort");
		if (sort !== null && !Object.hasOwn(sortKeys, sort)) {
			sendError(res, rec, base, 400, "", `Invalid sort: ${sort}`);
			return;
		}
		const direction = q.get("direction") ?? "-1";
		if (!["-1", "1"].includes(direction)) {
			sendError(res, rec, base, 400, "", `Invalid direction: ${direction}`);
			return;
		}
		let offset = 0;
		const cursor = q.get("cursor");
		rec.cursor = cursor;
		if (cursor !== null) {
			try {
				offset = JSON.parse(Buffer.from(cursor, "base64url").toString()).o;
			} catch {
				offset = NaN;
			}
			if (!Number.isInteger(offset) || offset < 1) {
				sendError(res, rec, base, 400, "", "Invalid cursor");
				return;
			}
		}
		rec.page = Math.floor(offset / size);
		const fault = takeFault("list", undefined, undefined, rec.page);
		if (fault && answerStatusFault(fault, res, rec, base, true)) return;

		const searches = q.getAll("search").map((x) => x.toLowerCase());
		const author = q.get("author")?.toLowerCase();
		let matches = [...repoById.values()].filter((repo) => {
			const tags = repoTags(repo);
			return (
				rec.filters.every((f) => tags.includes(f)) &&
				searches.every((x) => repo.id.toLowerCase().includes(x)) &&
				(author === undefined || repo.id.toLowerCase().split("/")[0] === author)
			);
		});
		if (sort !== null) {
			const key = sortKeys[sort];
			const sign = direction === "1" ? 1 : -1;
			// Stable: equal keys keep the order the repos were added in.
			matches = matches.sort((a, b) => (key(a) < key(b) ? -sign : key(a) > key(b) ? sign : 0));
		}
		rec.total = matches.length;
		const withCard = ["true", "True", "1"].includes(q.get("cardData") ?? "");
		const full = ["true", "True", "1"].includes(q.get("full") ?? "");
		const page = matches.slice(offset, offset + size).map((repo) => listingItem(repo, { withCard, full }));
		const extra = {};
		if (offset + size < matches.length) {
			const next = new URL(url.pathname + url.search, hubUrl);
			next.searchParams.set("cursor", Buffer.from(JSON.stringify({ o: offset + size, r: randomBytes(3).toString("hex") })).toString("base64url"));
			extra.Link = `<${next.href}>; rel="next"`;
			rec.link = extra.Link;
		}
		sendJson(res, rec, base, 200, page, extra);
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
		for (const res of openStalls) {
			res.destroy();
		}
		for (const server of [hubServer, cdnServer]) {
			server.closeAllConnections();
			await new Promise((resolve) => server.close(() => resolve()));
		}
	}

	return {
		url: hubUrl,
		cdnUrl,
		addRepo,
		repo: (id) => findRepo(id),
		/** The tags the hub serves for a repo (its own and the derived base_model ones). */
		tags: (id) => repoTags(findRepo(id)),
		inject,
		clearFaults,
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

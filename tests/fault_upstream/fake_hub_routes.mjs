// The fake Hub's routes (see fake_hub.mjs for what they reproduce). Each handler answers one
// request and fills in its log entry (`rec`: route, repoType, repo, rev, path, page, ...). `hub` is
// the state of one fake hub: { repos, faults, hubUrl, cdnUrl, signingKey, pageSize, listPageSize,
// aliases, openStalls, signedUrlUses }. Plain Node 20.

import { encodePath } from "../support/harness.mjs";
import { EXPAND } from "./fake_hub_repos.mjs";
import { answerStatusFault, baseHeaders, checkCdnSignature, cursorOffset, decodeSegments, nextPageLink, send, sendError, sendJson, sendRedirect, serveContent, signCdnUrl } from "./fake_hub_http.mjs";

const NOT_FOUND = "Sorry, we can't find the page you are looking for.";
/** The repo type of each API collection, which is also the path prefix of its file URLs. */
const TYPES = { models: "model", datasets: "dataset" };

/** `/resolve` URLs of a model have no prefix; a dataset's start with /datasets. */
function urlPrefix(type) {
	return type === "model" ? "" : `${type}s/`;
}

/** A boolean query value as the Hub reads one (hub-protocol.md §1.3). */
function queryFlag(query, name) {
	return ["true", "True", "1"].includes(query.get(name) ?? "");
}

/**
 * The revision at `raw[i]` and the index of the segment after it: `refs/pr/N` and
 * `refs/convert/NAME` may come as three literal segments, any revision as one percent-encoded
 * segment (hub-protocol.md §1.2).
 */
function splitRevision(raw, i) {
	const next = raw[i] === "refs" && ["pr", "convert"].includes(raw[i + 1]) && raw.length > i + 2 ? i + 3 : i + 1;
	const decoded = decodeSegments(raw.slice(i, next));
	return { rev: decoded ? decoded.join("/") : raw[i], next };
}

/** Answers 404 RevisionNotFound unless `rev` resolves; the commit, or undefined if it answered. */
function resolveOr404(res, rec, base, repo, rev, api = true) {
	const commit = repo.git.resolve(rev);
	if (!commit) sendError(res, rec, base, 404, "RevisionNotFound", `Invalid rev id: ${rev}`, { api });
	return commit;
}

function bearerToken(req) {
	const auth = req.headers.authorization;
	return auth && auth.startsWith("Bearer ") ? auth.slice(7) : undefined;
}

/** Whether the request's token was approved for the repo (its gate, or its privacy). */
function approved(repo, req) {
	const token = bearerToken(req);
	return token !== undefined && (repo.approvedTokens ?? []).includes(token);
}

/**
 * The missing-repo, private, disabled and gate rules of hub-protocol.md §4.2 for the repo of
 * `rec.repo`. `gateRoute`: the route's name in a RepoSpec's `gateOn`, undefined for the repo info
 * (which a gated or disabled repo keeps public). Returns the repo, or undefined if it answered.
 */
function authorizeRepo(hub, req, res, rec, base, { type, api, gateRoute }) {
	const anonymous = !req.headers.authorization;
	const repo = hub.repos.find(rec.repo, type);
	if (!repo || (repo.private && !approved(repo, req)) || (repo.disabled && gateRoute !== undefined && anonymous)) {
		if (anonymous) {
			sendError(res, rec, base, 401, "", "Invalid username or password.", { api });
		} else {
			sendError(res, rec, base, 404, "RepoNotFound", "Repository not found", { api });
		}
		return undefined;
	}
	if (repo.disabled && gateRoute !== undefined) {
		sendError(res, rec, base, 403, "", "Access to this resource is disabled.", { api });
		return undefined;
	}
	const gateOn = repo.gateOn ?? ["commits", "tree", "refs", "resolve"];
	if (repo.gated && gateOn.includes(gateRoute) && !approved(repo, req)) {
		if (anonymous) {
			sendError(
				res,
				rec,
				base,
				401,
				"GatedRepo",
				`Access to ${type} ${repo.id} is restricted. You must have access to it and be authenticated to access it. Please log in.`,
				{ api, extra: { "WWW-Authenticate": 'Bearer realm="Authentication required", charset="UTF-8"' } },
			);
		} else {
			sendError(
				res,
				rec,
				base,
				403,
				"GatedRepo",
				`Access to ${type} ${repo.id} is restricted and you are not in the authorized list. Visit ${hub.hubUrl}/${urlPrefix(type)}${repo.id} to ask for access.`,
				{ api },
			);
		}
		return undefined;
	}
	return repo;
}

// --- the CDN -----------------------------------------------------------------------------------

export function handleCdn(hub, req, res, rec) {
	rec.route = "cdn";
	const url = new URL(req.url, hub.cdnUrl);
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
	// The bytes are looked up in main's commit first, then in the repo's other commits.
	let found;
	for (const repo of hub.repos.all()) {
		if (repo.objectId !== m[1]) continue;
		for (const commit of repo.git.commits()) {
			for (const file of commit.files.values()) {
				if (file.lfs && file.xetHash === m[2]) {
					found = { repo, file };
				}
			}
			if (found) break;
		}
	}
	if (found) {
		rec.repoType = found.repo.type;
		rec.repo = found.repo.id;
		rec.path = found.file.path;
	}
	const bad = checkCdnSignature(hub.signingKey, url);
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
	const uses = hub.signedUrlUses.get(url.search) ?? 0;
	const expiry = hub.faults.take("content", found.repo.id, found.file.path, undefined, (f) => f.kind === "expire" && uses >= f.uses);
	if (expiry) {
		rec.fault = expiry.kind;
		rec.signatureError = "Request has expired";
		denied(rec.signatureError);
		return;
	}
	hub.signedUrlUses.set(url.search, uses + 1);
	// None of the Hub's X- headers; the ETag is the Xet hash (resolve_observed-headers.json, hop2_cdn).
	serveContent(
		hub,
		req,
		res,
		rec,
		{
			"Content-Type": "application/octet-stream",
			ETag: `"${found.file.xetHash}"`,
			"Cache-Control": "public, max-age=604800, immutable",
			"Last-Modified": "Tue, 01 Oct 2024 00:00:00 GMT",
			"X-Hf-Cdn-Pop": "fake-pop-1",
		},
		found.repo,
		found.file,
	);
}

// --- the hub -----------------------------------------------------------------------------------

export function handleHub(hub, req, res, rec) {
	const url = new URL(req.url, hub.hubUrl);
	const raw = url.pathname.split("/").slice(1);
	const api = raw[0] === "api";
	const base = baseHeaders("hub", api && raw[1] !== "resolve-cache" ? "api" : "resolvers");
	const apiType = api ? TYPES[raw[1]] : undefined;

	// Legacy ids and renamed repos: a relative 307 to the canonical id, the rest of the URL kept
	// (hub-samples/model-info_307-redirect_bert-base-uncased.json).
	const idStart = apiType ? 2 : api ? -1 : raw[0] === "datasets" ? 1 : 0;
	if (idStart >= 0) {
		for (const length of [1, 2]) {
			const id = raw.slice(idStart, idStart + length).join("/");
			if (raw.length >= idStart + length && Object.hasOwn(hub.aliases, id)) {
				rec.route = "alias";
				rec.repo = id;
				const rest = raw.slice(idStart + length);
				sendRedirect(res, rec, 307, base, "/" + [...raw.slice(0, idStart), hub.aliases[id], ...rest].join("/") + url.search);
				return;
			}
		}
	}

	// /api/resolve-cache/{models|datasets}/{ns}/{name}/{commit}/{path...}
	if (api && raw[1] === "resolve-cache" && TYPES[raw[2]] && raw.length >= 7) {
		handleResolveCache(hub, req, res, rec, base, raw, TYPES[raw[2]]);
		return;
	}
	if (apiType) {
		rec.repoType = apiType;
		// /api/{models|datasets}: the listing and search (hub-protocol.md §3.6)
		if (raw.length === 2 || (raw.length === 3 && raw[2] === "")) {
			handleListing(hub, req, res, rec, base, url, apiType);
			return;
		}
		// /api/{type}s/{ns}/{name}: the repo info at main
		if (raw.length === 4) {
			rec.repo = `${raw[2]}/${raw[3]}`;
			handleRepoInfo(hub, req, res, rec, base, url, apiType, "info", "main");
			return;
		}
		// /api/{type}s/{ns}/{name}/refs
		if (raw.length === 5 && raw[4] === "refs") {
			rec.repo = `${raw[2]}/${raw[3]}`;
			handleRefs(hub, req, res, rec, base, url, apiType);
			return;
		}
		// /api/{type}s/{ns}/{name}/{revision|commits|tree|xet-read-token}/{rev}[/...]
		if (raw.length >= 6) {
			const what = raw[4];
			const { rev, next } = splitRevision(raw, 5);
			rec.repo = `${raw[2]}/${raw[3]}`;
			rec.rev = rev;
			if (what === "revision") {
				handleRepoInfo(hub, req, res, rec, base, url, apiType, "revision", rev);
			} else if (what === "commits") {
				handleCommits(hub, req, res, rec, base, apiType, rev);
			} else if (what === "tree") {
				handleTree(hub, req, res, rec, base, url, apiType, rev, raw.slice(next));
			} else {
				rec.route = what;
				sendError(res, rec, base, 404, "", NOT_FOUND);
			}
			return;
		}
	}
	// /{ns}/{name}/resolve/{rev}/{path...}, /datasets/{ns}/{name}/resolve/{rev}/{path...}
	const fileType = raw[0] === "datasets" ? "dataset" : "model";
	const ofRepo = fileType === "model" ? raw : raw.slice(1);
	if (!api && ofRepo.length >= 5 && ofRepo[2] === "resolve") {
		rec.repoType = fileType;
		handleResolve(hub, req, res, rec, base, ofRepo, fileType);
		return;
	}
	rec.route = "unknown";
	sendError(res, rec, base, 404, "", NOT_FOUND, { api });
}

/**
 * The start of an unpaged API route of a repo: its name in the log, the access rules (`gateRoute`
 * as in authorizeRepo), then its status faults. Returns the repo, or undefined if it answered.
 */
function openApiRoute(hub, req, res, rec, base, { type, route, gateRoute }) {
	rec.route = route;
	const repo = authorizeRepo(hub, req, res, rec, base, { type, api: true, gateRoute });
	if (!repo) return undefined;
	const fault = hub.faults.take(route, rec.repo, undefined, undefined);
	if (fault && answerStatusFault(fault, res, rec, base, true)) return undefined;
	return repo;
}

/**
 * The repo info at `rev` (hub-protocol.md §3.1), honouring `expand=a` and `expand[]=a`. `route`:
 * "revision" (.../revision/{rev}, where faults apply) or "info" (the repo's own URL).
 */
function handleRepoInfo(hub, req, res, rec, base, url, type, route, rev) {
	const repo = openApiRoute(hub, req, res, rec, base, { type, route, gateRoute: undefined });
	if (!repo) return;
	const expand = [...url.searchParams.getAll("expand"), ...url.searchParams.getAll("expand[]")];
	rec.expand = expand;
	const unknown = expand.find((value) => !EXPAND[type].has(value));
	if (unknown !== undefined) {
		sendError(res, rec, base, 400, "", `"expand" must be one of the ${type} properties, got '${unknown}'`);
		return;
	}
	const commit = resolveOr404(res, rec, base, repo, rev);
	if (!commit) return;
	sendJson(res, rec, base, 200, hub.repos.info(repo, commit, expand));
}

/** The repo's branches, converts and tags, and its pull requests with `include_prs` (hub-protocol.md §3.4). */
function handleRefs(hub, req, res, rec, base, url, type) {
	const repo = openApiRoute(hub, req, res, rec, base, { type, route: "refs", gateRoute: "refs" });
	if (!repo) return;
	rec.includePrs = queryFlag(url.searchParams, "include_prs");
	sendJson(res, rec, base, 200, repo.git.list(rec.includePrs));
}

function handleCommits(hub, req, res, rec, base, type, rev) {
	const repo = openApiRoute(hub, req, res, rec, base, { type, route: "commits", gateRoute: "commits" });
	if (!repo) return;
	const commit = resolveOr404(res, rec, base, repo, rev);
	if (!commit) return;
	const name = repo.id.split("/")[1];
	const body = {
		id: commit.sha,
		title: `Upload ${name}`,
		message: `Upload ${name}\n`,
		authors: [{ user: "acme-bot", avatar: "" }],
		date: "2024-10-01T12:34:56.000Z",
	};
	sendJson(res, rec, base, 200, [body], { "X-Total-Count": "1" });
}

/** The recursive tree at `rev`, in pages with an absolute `Link` to the next one; `pathSegments` follow the revision. */
function handleTree(hub, req, res, rec, base, url, type, rev, pathSegments) {
	rec.route = "tree";
	const repo = authorizeRepo(hub, req, res, rec, base, { type, api: true, gateRoute: "tree" });
	if (!repo) return;
	const tree = repo.git.resolve(rev)?.tree;
	const size = repo.pageSize ?? hub.pageSize;
	const cursor = url.searchParams.get("cursor");
	const offset = cursorOffset(cursor);
	if (cursor !== null && tree && !(offset >= 0 && offset < tree.length)) {
		sendError(res, rec, base, 400, "", "Invalid cursor");
		return;
	}
	rec.page = Math.floor(offset / size);
	const fault = hub.faults.take("tree", rec.repo, undefined, rec.page);
	if (fault && answerStatusFault(fault, res, rec, base, true)) return;
	if (!resolveOr404(res, rec, base, repo, rev)) return;
	if (pathSegments.join("/") !== "") {
		sendError(res, rec, base, 404, "EntryNotFound", "Entry not found");
		return;
	}
	const extra = {};
	if (offset + size < tree.length) {
		extra.Link = nextPageLink(url, repo.treeLinkOrigin ?? hub.hubUrl, offset + size);
		rec.link = extra.Link;
	}
	sendJson(res, rec, base, 200, tree.slice(offset, offset + size), extra);
}

/** The listing of /api/{type}s: filter, search, author, sort, direction, limit, cardData, full. */
function handleListing(hub, req, res, rec, base, url, type) {
	rec.route = "list";
	const q = url.searchParams;
	// Several filters must all match; a comma inside one value is believed to mean "and" too.
	rec.filters = q.getAll("filter").flatMap((f) => f.split(",")).filter(Boolean);
	rec.sort = q.get("sort");
	rec.direction = q.get("direction");
	rec.limit = q.get("limit");
	let size = hub.listPageSize;
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
		createdAt: (r) => hub.repos.listedCreatedAt(r),
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
	const cursor = q.get("cursor");
	rec.cursor = cursor;
	const offset = cursorOffset(cursor);
	if (cursor !== null && !(offset >= 1)) {
		sendError(res, rec, base, 400, "", "Invalid cursor");
		return;
	}
	rec.page = Math.floor(offset / size);
	const fault = hub.faults.take("list", undefined, undefined, rec.page);
	if (fault && answerStatusFault(fault, res, rec, base, true)) return;

	const searches = q.getAll("search").map((x) => x.toLowerCase());
	const author = q.get("author")?.toLowerCase();
	let matches = hub.repos.all(type).filter((repo) => {
		const tags = hub.repos.tags(repo);
		return (
			(!repo.private || approved(repo, req)) &&
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
	const withCard = queryFlag(q, "cardData");
	const full = queryFlag(q, "full");
	const page = matches.slice(offset, offset + size).map((repo) => hub.repos.listingItem(repo, { withCard, full }));
	const extra = {};
	if (offset + size < matches.length) {
		extra.Link = nextPageLink(url, hub.hubUrl, offset + size);
		rec.link = extra.Link;
	}
	sendJson(res, rec, base, 200, page, extra);
}

/** A small file's bytes behind the relative 307 of /resolve, at the commit its URL names. */
function handleResolveCache(hub, req, res, rec, base, raw, type) {
	rec.route = "resolve-cache";
	rec.repoType = type;
	const { rev, next } = splitRevision(raw, 5);
	const segments = decodeSegments(raw.slice(next));
	rec.repo = `${raw[3]}/${raw[4]}`;
	rec.rev = rev;
	rec.path = segments?.join("/");
	const repo = authorizeRepo(hub, req, res, rec, base, { type, api: false, gateRoute: "resolve" });
	if (!repo) return;
	const commit = resolveOr404(res, rec, base, repo, rev, false);
	if (!commit) return;
	const file = rec.path !== undefined ? commit.files.get(rec.path) : undefined;
	if (!file || file.lfs) {
		sendError(res, rec, base, 404, "EntryNotFound", "Entry not found", { api: false, extra: { "X-Repo-Commit": commit.sha } });
		return;
	}
	serveContent(
		hub,
		req,
		res,
		rec,
		{
			...base,
			"Content-Type": "text/plain; charset=utf-8",
			"X-Repo-Commit": commit.sha,
			ETag: `"${file.oid}"`,
			"Cache-Control": "private, max-age=31536000, immutable",
		},
		repo,
		file,
	);
}

/**
 * /resolve: a 302 to the CDN for LFS files, a relative 307 to /api/resolve-cache for the others.
 * `raw`: the URL's segments from the repo id on ({ns}, {name}, "resolve", {rev}, {path...}).
 */
function handleResolve(hub, req, res, rec, base, raw, type) {
	rec.route = "resolve";
	const { rev, next } = splitRevision(raw, 3);
	const segments = decodeSegments(raw.slice(next));
	rec.repo = `${raw[0]}/${raw[1]}`;
	rec.rev = rev;
	rec.path = segments?.join("/");
	const repo = authorizeRepo(hub, req, res, rec, base, { type, api: false, gateRoute: "resolve" });
	if (!repo) return;
	const fault = hub.faults.take("resolve", rec.repo, rec.path, undefined);
	if (fault && answerStatusFault(fault, res, rec, base, false)) return;
	const commit = resolveOr404(res, rec, base, repo, rev, false);
	if (!commit) return;
	const sha = commit.sha;
	const file = rec.path !== undefined ? commit.files.get(rec.path) : undefined;
	if (!file) {
		sendError(res, rec, base, 404, "EntryNotFound", "Entry not found", { api: false, extra: { "X-Repo-Commit": sha } });
		return;
	}
	if (file.lfs) {
		// resolve_observed-headers.json, samples 5-7: absolute 302 to the CDN, X-Linked-* here only.
		sendRedirect(
			res,
			rec,
			302,
			{
				...base,
				"X-Repo-Commit": sha,
				"X-Linked-Etag": `"${file.sha256}"`,
				"X-Linked-Size": String(file.size),
				"X-Xet-Hash": file.xetHash,
				Link: `<${hub.hubUrl}/api/${type}s/${repo.id}/xet-read-token/${sha}>; rel="xet-auth"`,
				"Accept-Ranges": "bytes",
			},
			signCdnUrl(hub.signingKey, hub.cdnUrl, repo, file),
		);
		return;
	}
	// resolve_observed-headers.json, sample 2: relative 307 to /api/resolve-cache, commit and etag in the URL.
	const original = encodeURIComponent(`/${urlPrefix(type)}${repo.id}/resolve/${rev}/${file.path}`);
	sendRedirect(res, rec, 307, base, `/api/resolve-cache/${type}s/${repo.id}/${sha}/${encodePath(file.path)}?${original}=&etag=%22${file.oid}%22`);
}

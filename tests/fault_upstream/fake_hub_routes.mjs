// The fake Hub's routes (see fake_hub.mjs for what they reproduce). Each handler answers one
// request and fills in its log entry (`rec`: route, repo, path, page, ...). `hub` is the state of
// one fake hub: { repos, faults, hubUrl, cdnUrl, signingKey, pageSize, listPageSize, aliases,
// openStalls, signedUrlUses }. Plain Node 20.

import { encodePath } from "../support/harness.mjs";
import { MODEL_EXPAND } from "./fake_hub_repos.mjs";
import { answerStatusFault, baseHeaders, checkCdnSignature, cursorOffset, decodeSegments, nextPageLink, send, sendError, sendJson, sendRedirect, serveContent, signCdnUrl } from "./fake_hub_http.mjs";

const NOT_FOUND = "Sorry, we can't find the page you are looking for.";

/** A commit-ish: the repo's sha, or a branch this fake knows (main, HEAD). */
function resolveRev(repo, rev) {
	return rev === repo.sha || rev === "main" || rev === "HEAD" ? repo.sha : undefined;
}

/** Answers 404 RevisionNotFound unless `rev` resolves; the commit, or undefined if it answered. */
function resolveOr404(res, rec, base, repo, rev, api = true) {
	const sha = resolveRev(repo, rev);
	if (!sha) sendError(res, rec, base, 404, "RevisionNotFound", `Invalid rev id: ${rev}`, { api });
	return sha;
}

/** The gate and the missing-repo rules of hub-protocol.md §4.2. Returns the repo, or undefined if it answered. */
function authorizeRepo(hub, req, res, rec, base, repoId, { api, gateRoute }) {
	const auth = req.headers.authorization;
	const token = auth && auth.startsWith("Bearer ") ? auth.slice(7) : undefined;
	const repo = hub.repos.find(repoId);
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
				`Access to model ${repo.id} is restricted and you are not in the authorized list. Visit ${hub.hubUrl}/${repo.id} to ask for access.`,
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
	let found;
	for (const repo of hub.repos.all()) {
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

	// Legacy ids and renamed repos: a relative 307 to the canonical id, the rest of the URL kept
	// (hub-samples/model-info_307-redirect_bert-base-uncased.json).
	const idStart = api && raw[1] === "models" ? 2 : api ? -1 : 0;
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

	// /api/resolve-cache/models/{ns}/{name}/{commit}/{path...}
	if (api && raw[1] === "resolve-cache" && raw[2] === "models" && raw.length >= 7) {
		handleResolveCache(hub, req, res, rec, base, raw);
		return;
	}
	// /api/models: the listing and search (hub-protocol.md §3.6)
	if (api && raw[1] === "models" && (raw.length === 2 || (raw.length === 3 && raw[2] === ""))) {
		handleListing(hub, res, rec, base, url);
		return;
	}
	// /api/models/{ns}/{name}: the repo info at main
	if (api && raw[1] === "models" && raw.length === 4) {
		rec.repo = `${raw[2]}/${raw[3]}`;
		handleRepoInfo(hub, req, res, rec, base, url, "info", "main");
		return;
	}
	// /api/models/{ns}/{name}/{revision|commits|tree|xet-read-token}/{rev}[/...]
	if (api && raw[1] === "models" && raw.length >= 6) {
		const what = raw[4];
		const rev = decodeURIComponent(raw[5]);
		rec.repo = `${raw[2]}/${raw[3]}`;
		if (what === "revision") {
			handleRepoInfo(hub, req, res, rec, base, url, "revision", rev);
		} else if (what === "commits") {
			handleCommits(hub, req, res, rec, base, rev);
		} else if (what === "tree") {
			handleTree(hub, req, res, rec, base, url, raw, rev);
		} else {
			rec.route = what;
			sendError(res, rec, base, 404, "", NOT_FOUND);
		}
		return;
	}
	// /{ns}/{name}/resolve/{rev}/{path...}
	if (!api && raw.length >= 5 && raw[2] === "resolve") {
		handleResolve(hub, req, res, rec, base, raw);
		return;
	}
	rec.route = "unknown";
	sendError(res, rec, base, 404, "", NOT_FOUND, { api });
}

/**
 * The repo info at `rev` (hub-protocol.md §3.1), honouring `expand=a` and `expand[]=a`. `route`:
 * "revision" (.../revision/{rev}, where faults apply) or "info" (the repo's own URL).
 */
function handleRepoInfo(hub, req, res, rec, base, url, route, rev) {
	rec.route = route;
	const repo = authorizeRepo(hub, req, res, rec, base, rec.repo, { api: true });
	if (!repo) return;
	const fault = hub.faults.take(route, rec.repo, undefined, undefined);
	if (fault && answerStatusFault(fault, res, rec, base, true)) return;
	const expand = [...url.searchParams.getAll("expand"), ...url.searchParams.getAll("expand[]")];
	rec.expand = expand;
	const unknown = expand.find((value) => !MODEL_EXPAND.has(value));
	if (unknown !== undefined) {
		sendError(res, rec, base, 400, "", `"expand" must be one of the model properties, got '${unknown}'`);
		return;
	}
	const sha = resolveOr404(res, rec, base, repo, rev);
	if (!sha) return;
	sendJson(res, rec, base, 200, hub.repos.info(repo, sha, expand));
}

function handleCommits(hub, req, res, rec, base, rev) {
	rec.route = "commits";
	const repo = authorizeRepo(hub, req, res, rec, base, rec.repo, { api: true, gateRoute: "commits" });
	if (!repo) return;
	const fault = hub.faults.take("commits", rec.repo, undefined, undefined);
	if (fault && answerStatusFault(fault, res, rec, base, true)) return;
	const sha = resolveOr404(res, rec, base, repo, rev);
	if (!sha) return;
	const name = repo.id.split("/")[1];
	const commit = {
		id: sha,
		title: `Upload ${name}`,
		message: `Upload ${name}\n`,
		authors: [{ user: "acme-bot", avatar: "" }],
		date: "2024-10-01T12:34:56.000Z",
	};
	sendJson(res, rec, base, 200, [commit], { "X-Total-Count": "1" });
}

/** The recursive tree, in pages with an absolute `Link` to the next one. */
function handleTree(hub, req, res, rec, base, url, raw, rev) {
	rec.route = "tree";
	const repo = authorizeRepo(hub, req, res, rec, base, rec.repo, { api: true, gateRoute: "tree" });
	if (!repo) return;
	const size = repo.pageSize ?? hub.pageSize;
	const cursor = url.searchParams.get("cursor");
	const offset = cursorOffset(cursor);
	if (cursor !== null && !(offset >= 0 && offset < repo.tree.length)) {
		sendError(res, rec, base, 400, "", "Invalid cursor");
		return;
	}
	rec.page = Math.floor(offset / size);
	const fault = hub.faults.take("tree", rec.repo, undefined, rec.page);
	if (fault && answerStatusFault(fault, res, rec, base, true)) return;
	if (!resolveOr404(res, rec, base, repo, rev)) return;
	if (raw.length > 6 && raw.slice(6).join("/") !== "") {
		sendError(res, rec, base, 404, "EntryNotFound", "Entry not found");
		return;
	}
	const extra = {};
	if (offset + size < repo.tree.length) {
		extra.Link = nextPageLink(url, repo.treeLinkOrigin ?? hub.hubUrl, offset + size);
		rec.link = extra.Link;
	}
	sendJson(res, rec, base, 200, repo.tree.slice(offset, offset + size), extra);
}

/** The listing of /api/models: filter, search, author, sort, direction, limit, cardData, full. */
function handleListing(hub, res, rec, base, url) {
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
	let matches = hub.repos.all().filter((repo) => {
		const tags = hub.repos.tags(repo);
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
	const page = matches.slice(offset, offset + size).map((repo) => hub.repos.listingItem(repo, { withCard, full }));
	const extra = {};
	if (offset + size < matches.length) {
		extra.Link = nextPageLink(url, hub.hubUrl, offset + size);
		rec.link = extra.Link;
	}
	sendJson(res, rec, base, 200, page, extra);
}

/** A small file's bytes behind the relative 307 of /resolve. */
function handleResolveCache(hub, req, res, rec, base, raw) {
	rec.route = "resolve-cache";
	const segments = decodeSegments(raw.slice(6));
	rec.repo = `${raw[3]}/${raw[4]}`;
	rec.path = segments?.join("/");
	const repo = authorizeRepo(hub, req, res, rec, base, rec.repo, { api: false, gateRoute: "resolve" });
	if (!repo) return;
	const file = rec.path !== undefined ? repo.files.get(rec.path) : undefined;
	if (!resolveOr404(res, rec, base, repo, raw[5], false)) return;
	if (!file || file.lfs) {
		sendError(res, rec, base, 404, "EntryNotFound", "Entry not found", { api: false, extra: { "X-Repo-Commit": repo.sha } });
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
			"X-Repo-Commit": repo.sha,
			ETag: `"${file.oid}"`,
			"Cache-Control": "private, max-age=31536000, immutable",
		},
		repo,
		file,
	);
}

/** /resolve: a 302 to the CDN for LFS files, a relative 307 to /api/resolve-cache for the others. */
function handleResolve(hub, req, res, rec, base, raw) {
	rec.route = "resolve";
	const repoId = `${raw[0]}/${raw[1]}`;
	const rev = decodeURIComponent(raw[3]);
	const segments = decodeSegments(raw.slice(4));
	rec.repo = repoId;
	rec.path = segments?.join("/");
	const repo = authorizeRepo(hub, req, res, rec, base, repoId, { api: false, gateRoute: "resolve" });
	if (!repo) return;
	const fault = hub.faults.take("resolve", repoId, rec.path, undefined);
	if (fault && answerStatusFault(fault, res, rec, base, false)) return;
	const sha = resolveOr404(res, rec, base, repo, rev, false);
	if (!sha) return;
	const file = rec.path !== undefined ? repo.files.get(rec.path) : undefined;
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
				Link: `<${hub.hubUrl}/api/models/${repo.id}/xet-read-token/${sha}>; rel="xet-auth"`,
				"Accept-Ranges": "bytes",
			},
			signCdnUrl(hub.signingKey, hub.cdnUrl, repo, file),
		);
		return;
	}
	// resolve_observed-headers.json, sample 2: relative 307 to /api/resolve-cache, commit and etag in the URL.
	const original = encodeURIComponent(`/${repo.id}/resolve/${rev}/${file.path}`);
	sendRedirect(res, rec, 307, base, `/api/resolve-cache/models/${repo.id}/${sha}/${encodePath(file.path)}?${original}=&etag=%22${file.oid}%22`);
}

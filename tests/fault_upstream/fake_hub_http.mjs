// The fake Hub's responses (see fake_hub.mjs): the Hub's headers and error shapes, status faults,
// file bodies with Range and content faults, page cursors, and the CDN's signed URLs. Every
// response is recorded in the request's log entry (`rec`). Plain Node 20.

import { createHmac, randomBytes } from "node:crypto";

import { corruptBytes } from "./fake_hub_faults.mjs";

const EXPOSE_HEADERS =
	"X-Repo-Commit,X-Request-Id,X-Error-Code,X-Error-Message,X-Total-Count,ETag,Link,Accept-Ranges," +
	"Content-Range,X-Linked-Size,X-Linked-ETag,X-Xet-Hash";

/** The headers of every hub response in rate-limit `bucket` ("api" or "resolvers"); none on the CDN. */
export function baseHeaders(server, bucket) {
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

export function send(res, rec, status, headers, body = "") {
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

export function sendJson(res, rec, base, status, value, extra = {}) {
	send(res, rec, status, { ...base, "Content-Type": "application/json; charset=utf-8", ...extra }, JSON.stringify(value));
}

export function sendError(res, rec, base, status, code, message, { api = true, extra = {} } = {}) {
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

/** A 302 or 307 to `location`, with the Hub's text body. */
export function sendRedirect(res, rec, status, headers, location) {
	rec.location = location;
	const verb = status === 302 ? "Found" : "Temporary Redirect";
	send(res, rec, status, { ...headers, "Content-Type": "text/plain; charset=utf-8", Location: location }, `${verb}. Redirecting to ${location}`);
}

/** Applies a 429 or 500 fault; true when it answered. */
export function answerStatusFault(fault, res, rec, base, api) {
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

/**
 * Serves a file body (or its corruption), honouring a single `bytes=a-[b]` Range, with the
 * content faults of `hub.faults`. A stalled response is kept in `hub.openStalls` until it closes.
 */
export function serveContent(hub, req, res, rec, headers, repo, file) {
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
	const fault = hub.faults.take(
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
		hub.openStalls.add(res);
		res.on("close", () => hub.openStalls.delete(res));
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

export function decodeSegments(segments) {
	try {
		return segments.map((s) => decodeURIComponent(s));
	} catch {
		return undefined;
	}
}

// --- page cursors ------------------------------------------------------------------------------

/**
 * The offset a page `cursor` carries, 0 without one, or NaN when it is not one of ours.
 */
export function cursorOffset(cursor) {
	if (cursor === null) return 0;
	try {
		const offset = JSON.parse(Buffer.from(cursor, "base64url").toString()).o;
		return Number.isInteger(offset) ? offset : NaN;
	} catch {
		return NaN;
	}
}

/** An absolute `Link: <...&cursor=...>; rel="next"` to the page at `offset` of this request's URL. */
export function nextPageLink(url, origin, offset) {
	const next = new URL(url.pathname + url.search, origin);
	next.searchParams.set("cursor", Buffer.from(JSON.stringify({ o: offset, r: randomBytes(3).toString("hex") })).toString("base64url"));
	return `<${next.href}>; rel="next"`;
}

// --- signed CDN URLs ---------------------------------------------------------------------------

/** A CloudFront-style signed URL on the CDN for an LFS file, valid for an hour. */
export function signCdnUrl(signingKey, cdnUrl, repo, file) {
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

/** Why the CDN refuses a URL (CloudFront's message), or undefined when its signature holds. */
export function checkCdnSignature(signingKey, url) {
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

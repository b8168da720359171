// The faults a fake Hub (fake_hub.mjs) injects, per route, repo, path and page. Plain Node 20.

const ROUTES = ["list", "revision", "refs", "commits", "tree", "resolve", "content"];
const KINDS = ["429", "500", "truncate", "stall", "corrupt", "expire"];
const CONTENT_KINDS = ["truncate", "stall", "corrupt", "expire"];

/** What the "wrong bytes" fault serves instead of a file: same length, every byte different. */
export function corruptBytes(buf) {
	const out = Buffer.from(buf);
	for (let i = 0; i < out.length; i++) {
		out[i] ^= 0xa5;
	}
	return out;
}

/** The faults of one hub, each spent after `times` hits. Not shared between hubs. */
export class FaultSet {
	#faults = [];

	/**
	 * Adds a fault. `route`: "list" (the /api/models and /api/datasets listings) | "revision" |
	 * "refs" | "commits" | "tree" | "resolve" | "content" (the response that carries a file's
	 * bytes: the CDN for LFS files, /api/resolve-cache for the others). `repo`: an id, which hits
	 * the model and the dataset of that id alike.
	 * `kind`: "429" | "500" (any route); "truncate" | "stall" | "corrupt" | "expire" (content only;
	 * "expire" only on the CDN).
	 * `times`: how many requests it hits (default 1; Infinity for every time).
	 * 429 options: `retryAfter` (seconds, Retry-After header) or `rateLimitReset` (RateLimit t=).
	 * Content options: `at`, a byte offset of the file: only a response whose bytes include it is
	 * hit (a truncation then sends the bytes before it, and no more); "expire": `uses`, how many
	 * requests each signed URL of the file is served before it answers 403 (default 1).
	 */
	inject(fault) {
		const f = { times: 1, ...fault, hits: 0 };
		if (!ROUTES.includes(f.route)) {
			throw new Error(`unknown fault route ${f.route}`);
		}
		if (!KINDS.includes(f.kind)) {
			throw new Error(`unknown fault kind ${f.kind}`);
		}
		if (CONTENT_KINDS.includes(f.kind) && f.route !== "content") {
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
		this.#faults.push(f);
		return f;
	}

	/** Removes every fault (the upstream is repaired). */
	clear() {
		this.#faults.length = 0;
	}

	/** The first unspent fault for this request (counted as a hit); `applies` filters further. */
	take(route, repo, path, page, applies = (f) => f.kind !== "expire") {
		for (const f of this.#faults) {
			if (f.route !== route || f.repo !== repo || f.hits >= f.times) continue;
			if (f.path !== undefined && f.path !== path) continue;
			if (f.page !== undefined && f.page !== page) continue;
			if (!applies(f)) continue;
			f.hits++;
			return f;
		}
		return undefined;
	}
}

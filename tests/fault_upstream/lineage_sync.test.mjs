// Lineage sync tests: `hubmirror sync --ancestors / --descendants` (and the same rules in a
// `hubmirror serve --config` file) against fake_hub.mjs, which derives `base_model:ID` and
// `base_model:RELATION:ID` tags from each card as the Hub does and serves the
// `/api/models?filter=...&sort=downloads&direction=-1` listing in pages of 2 with `Link` cursors.
//
// The upstream holds one family and a few odd models:
//
//   acme/root (5000 downloads)
//   ├─ finetune   acme/finetune (3000)
//   │  ├─ quantized acme/finetune-gguf (900)  relation inferred by the hub from its .gguf file
//   │  ├─ quantized acme/finetune-awq (500)   its card names "Acme/FineTune" (a case variant)
//   │  ├─ quantized acme/finetune-gptq (120)
//   │  ├─ quantized acme/finetune-int8 (60)
//   │  ├─ adapter   acme/finetune-lora (700)  inferred from its lora tag and adapter_config.json
//   │  └─ merge     acme/merge (400)          with a second base, ghost/vanished-base, that the
//   │                                          upstream does not have
//   ├─ quantized  acme/root-gguf (1500)
//   └─ finetune   acme/root-tiny-ft (30)
//      └─ quantized acme/tiny-ft-gguf (8000)
//
//   odd/cycle-a (50) -> odd/cycle-b (40) -> "ODD/CYCLE-A": a cycle through a case variant; cycle-a's
//   card also names two invalid ids. odd/selfish (20) names itself and "Odd/Cycle-B".
//
// Each test checks what was mirrored with its files (through `hubmirror serve`, byte for byte),
// what was not, what the fake hub was asked, and what `hubmirror lineage` and
// /api/lineage/models say.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test lineage_sync.test.mjs
//
// Everything runs on 127.0.0.1 with port 0, in a temporary directory removed afterwards.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { rm, stat, writeFile } from "node:fs/promises";

import { join } from "node:path";

import { pseudoRandomBytes, sha256Hex, startFakeHub } from "./fake_hub.mjs";
import { diagnoseOutput, encodePath, killChildren, makeWorkRoot, runHubmirror, serveHubmirror } from "./harness.mjs";

const BIN = process.env.HUBMIRROR_BIN;
const RETRIES = "1";
const STALL_TIMEOUT_S = "2";

/** @type {Set<Awaited<ReturnType<typeof startFakeHub>>>} */
const hubs = new Set();
let workRoot;
let dirCounter = 0;

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/**
 * A small model repo: README.md with the card as front matter, config.json, and one LFS weights
 * file (a .gguf for quantized GGUF repos). `card` adds to cardData; the rest goes to the RepoSpec.
 */
function model(id, { card = {}, gguf = false, adapter = false, ...spec } = {}) {
	const cardData = { license: "mit", ...card };
	const yaml = Object.entries(cardData)
		.map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
		.join("\n");
	const files = [
		{ path: "README.md", content: Buffer.from(`---\n${yaml}\n---\n\n# ${id}\n`) },
		{ path: "config.json", content: Buffer.from(JSON.stringify({ model_type: "llama", name: id }) + "\n") },
		gguf
			? { path: "model-Q4_K_M.gguf", content: pseudoRandomBytes(`${id}/gguf`, 3000), lfs: true }
			: { path: "model.safetensors", content: pseudoRandomBytes(`${id}/st`, 2048), lfs: true },
	];
	if (adapter) files.push({ path: "adapter_config.json", content: Buffer.from('{"r": 8}\n') });
	return { id, files, cardData, tags: ["safetensors", "license:mit", "region:us"], ...spec };
}

const MISSING_BASE = "ghost/vanished-base";

const FAMILY = [
	model("acme/root", { downloads: 5000 }),
	model("acme/finetune", { downloads: 3000, card: { base_model: "acme/root" } }),
	model("acme/finetune-gguf", {
		downloads: 900,
		card: { base_model: "acme/finetune" },
		gguf: true,
		tags: ["gguf", "license:mit", "region:us"],
		libraryName: "gguf",
		pipelineTag: null,
	}),
	model("acme/finetune-awq", { downloads: 500, card: { base_model: "Acme/FineTune", base_model_relation: "quantized" } }),
	model("acme/finetune-gptq", {
		downloads: 120,
		card: { base_model: "acme/finetune", base_model_relation: "quantized" },
		tags: ["gptq", "safetensors", "region:us"],
	}),
	model("acme/finetune-int8", { downloads: 60, card: { base_model: "acme/finetune", base_model_relation: "quantized" } }),
	model("acme/finetune-lora", {
		downloads: 700,
		card: { base_model: "acme/finetune" },
		adapter: true,
		tags: ["lora", "region:us"],
		libraryName: "peft",
	}),
	model("acme/merge", { downloads: 400, card: { base_model: ["acme/finetune", MISSING_BASE] } }),
	model("acme/root-gguf", { downloads: 1500, card: { base_model: "acme/root", base_model_relation: "quantized" } }),
	model("acme/root-tiny-ft", { downloads: 30, card: { base_model: "acme/root" } }),
	model("acme/tiny-ft-gguf", { downloads: 8000, card: { base_model: "acme/root-tiny-ft", base_model_relation: "quantized" } }),
	model("odd/cycle-a", {
		downloads: 50,
		card: { base_model: ["odd/cycle-b", "not a valid id", "../../etc/passwd"], base_model_relation: "finetune" },
	}),
	model("odd/cycle-b", { downloads: 40, card: { base_model: "ODD/CYCLE-A", base_model_relation: "finetune" } }),
	model("odd/selfish", { downloads: 20, card: { base_model: ["odd/selfish", "Odd/Cycle-B"], base_model_relation: "finetune" } }),
];

function spec(id) {
	return FAMILY.find((s) => s.id === id);
}

function newDataDir() {
	return join(workRoot, `data-${++dirCounter}`);
}

// ---------------------------------------------------------------------------------------------
// Scenario wrapper: on failure, show what the fake hub saw and what the binary printed
// ---------------------------------------------------------------------------------------------

function scenario(name, fn, { timeout = 20_000 } = {}) {
	test(name, { timeout }, async (t) => {
		const ctx = {
			hub: undefined,
			runs: [],
			servers: [],
			async startHub(options = {}) {
				const hub = await startFakeHub({ repos: FAMILY, ...options });
				hubs.add(hub);
				ctx.hub = hub;
				return hub;
			},
			/** `hubmirror ARGS...`, recorded for diagnostics. */
			async run(args, env = {}) {
				const run = await runHubmirror(BIN, args, { timeoutMs: 15_000, env });
				ctx.runs.push(run);
				assert.ok(!run.timedOut, `hubmirror ${args.join(" ")} did not finish in time\nstderr:\n${run.stderr}`);
				return run;
			},
			/** `hubmirror sync` against the hub, fast retry settings. */
			sync(dataDir, args) {
				return ctx.run([
					"sync",
					"--data",
					dataDir,
					"--upstream",
					ctx.hub.url,
					"--retries",
					RETRIES,
					"--stall-timeout",
					STALL_TIMEOUT_S,
					...args,
				]);
			},
			/** `hubmirror lineage --data DIR ARGS...`; `json` is the parsed stdout with --format json. */
			async lineage(dataDir, args) {
				const run = await ctx.run(["lineage", "--data", dataDir, ...args]);
				if (run.code === 0 && args.includes("json")) run.json = JSON.parse(run.stdout);
				return run;
			},
			async serve(dataDir, options) {
				const mirror = await serveHubmirror(BIN, dataDir, options);
				ctx.servers.push(mirror);
				return mirror;
			},
		};
		try {
			await fn(ctx, t);
		} catch (err) {
			for (const run of ctx.runs) {
				t.diagnostic(`hubmirror ${run.args.map((a) => (a.includes(" ") ? JSON.stringify(a) : a)).join(" ")}`);
				t.diagnostic(`  exit ${run.code}${run.signal ? ` signal ${run.signal}` : ""} after ${run.ms} ms`);
				diagnoseOutput(t, run);
			}
			for (const mirror of ctx.servers) {
				for (const l of mirror.stderr().trimEnd().split("\n").filter(Boolean)) t.diagnostic(`  serve stderr: ${l}`);
			}
			if (ctx.hub) {
				t.diagnostic("requests the fake hub and CDN saw:");
				for (const l of ctx.hub.describe()) t.diagnostic(`  ${l}`);
			}
			throw err;
		} finally {
			for (const mirror of ctx.servers) await mirror.stop();
			if (ctx.hub) {
				hubs.delete(ctx.hub);
				await ctx.hub.close();
			}
		}
	});
}

// ---------------------------------------------------------------------------------------------
// Helpers and assertions
// ---------------------------------------------------------------------------------------------

/** Repo ids of a `hubmirror sync` stdout ("ID@main: mirrored ..." / "up to date"), in order. */
function syncedIds(run) {
	return [...run.stdout.matchAll(/^(\S+)@main: (?:mirrored|up to date)/gm)].map((m) => m[1]);
}

/** Every model id the served mirror lists (following its Link pages), sorted. */
async function listedModels(mirror) {
	const ids = [];
	let url = `${mirror.url}/api/models?limit=100`;
	for (let pages = 0; url; pages++) {
		assert.ok(pages < 50, "the mirror's listing does not end");
		const res = await fetch(url);
		assert.equal(res.status, 200, `mirror ${url} answered ${res.status}`);
		ids.push(...(await res.json()).map((item) => item.id));
		url = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get("link") ?? "")?.[1];
	}
	return ids.sort();
}

/** The served mirror has `repoId` at the upstream's commit, with every file byte for byte. */
async function assertRepoMirrored(mirror, hub, repoId) {
	const repo = hub.repo(repoId);
	const info = await fetch(`${mirror.url}/api/models/${repoId}`);
	assert.equal(info.status, 200, `mirror /api/models/${repoId} answered ${info.status}`);
	const body = await info.json();
	assert.equal(body.sha, repo.sha, `${repoId}: the mirrored revision must be the upstream commit`);
	assert.deepEqual(body.cardData, repo.cardData, `${repoId}: cardData must be mirrored verbatim`);
	for (const file of repo.files.values()) {
		const res = await fetch(`${mirror.url}/${repoId}/resolve/main/${encodePath(file.path)}`);
		assert.equal(res.status, 200, `${repoId}/${file.path}: mirror resolve answered ${res.status}`);
		const bytes = Buffer.from(await res.arrayBuffer());
		assert.equal(sha256Hex(bytes), file.sha256, `${repoId}/${file.path}: mirrored bytes differ from the source`);
	}
}

/** Serves the mirror and checks that it holds exactly `ids`, each with all its files. */
async function assertMirrorHoldsExactly(ctx, dataDir, ids) {
	const mirror = await ctx.serve(dataDir);
	assert.deepEqual(await listedModels(mirror), [...ids].sort(), "the models mirrored");
	for (const id of ids) await assertRepoMirrored(mirror, ctx.hub, id);
	return mirror;
}

/** Repos whose files the hub was asked for (tree listings or downloads), sorted, once each. */
function reposFetched(hub) {
	const ids = hub.log.filter((r) => ["tree", "resolve", "resolve-cache", "cdn"].includes(r.route)).map((r) => r.repo);
	return [...new Set(ids)].sort();
}

/** The listing requests the hub answered, as { filter, cursor } (first pages: cursor null). */
function listings(hub) {
	return hub.requests({ route: "list" }).map((r) => ({ filter: r.filters.join(","), cursor: r.cursor, status: r.status, n: r.n }));
}

/** A lineage graph lists each model once (ids compared in any case) and each edge once. */
function assertEachModelOnce(graph) {
	const ids = graph.nodes.map((n) => n.id.toLowerCase());
	assert.equal(new Set(ids).size, ids.length, `a model is listed twice among ${ids.join(", ")}`);
	const edges = graph.edges.map((e) => `${e.child.toLowerCase()} -> ${e.parent.toLowerCase()}`);
	assert.equal(new Set(edges).size, edges.length, `an edge is listed twice among ${edges.join(", ")}`);
	for (const e of graph.edges) {
		assert.ok(ids.includes(e.child.toLowerCase()) && ids.includes(e.parent.toLowerCase()), `edge ${e.child} -> ${e.parent} names a model that is not a node`);
	}
}

/**
 * In `hubmirror lineage` text, each section ("ancestors", "descendants") expands a model once:
 * a model named again in the same section is marked "(see above)".
 */
function assertTextShowsEachModelOnce(text) {
	let seen = new Set();
	for (const line of text.split("\n")) {
		if (/^\S/.test(line)) {
			seen = new Set(); // a new section
			continue;
		}
		const m = /^\s+(?:[a-z]+(?: \(inferred\))?(?: of)?: )?(\S+)( \(not mirrored\))?( \(see above\))?$/.exec(line);
		if (!m) continue;
		const key = m[1].toLowerCase();
		if (seen.has(key)) assert.ok(m[3], `"${line.trim()}" shows ${m[1]} a second time without "(see above)"`);
		else assert.ok(!m[3], `"${line.trim()}" is marked "(see above)" on its first showing`);
		seen.add(key);
	}
}

/** Polls `fn` until it returns a truthy value; fails after `ms`. */
async function eventually(fn, ms, what) {
	const deadline = Date.now() + ms;
	let last;
	while (Date.now() < deadline) {
		last = await fn();
		if (last) return last;
		await new Promise((r) => setTimeout(r, 100));
	}
	assert.fail(`${what}: not reached in ${ms} ms`);
}

/** Resolves once the hub has seen no request for `quietMs`. */
async function hubQuiet(hub, quietMs = 400, maxMs = 10_000) {
	const deadline = Date.now() + maxMs;
	let count = -1;
	while (Date.now() < deadline) {
		if (hub.log.length === count && hub.log.every((r) => r.endMs !== undefined)) return;
		count = hub.log.length;
		await new Promise((r) => setTimeout(r, quietMs));
	}
	assert.fail(`the hub was still busy after ${maxMs} ms`);
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe("hubmirror sync along lineage (--ancestors, --descendants) against a Hub-like upstream", () => {
	before(async () => {
		workRoot = await makeWorkRoot(BIN, "hubmirror-lineage-");
	});

	after(async () => {
		killChildren();
		for (const hub of hubs) await hub.close();
		hubs.clear();
		if (workRoot) await rm(workRoot, { recursive: true, force: true });
	});

	// a. Ancestors ------------------------------------------------------------------------------

	scenario("--ancestors from a quantized model mirrors exactly its chain to the root, with files", async (ctx) => {
		const hub = await ctx.startHub();
		const data = newDataDir();

		const run = await ctx.sync(data, ["acme/finetune-gguf", "--ancestors"]);
		assert.equal(run.code, 0, "the sync must succeed");
		assert.deepEqual(syncedIds(run), ["acme/finetune-gguf", "acme/finetune", "acme/root"], "the model, then its ancestors");
		assert.equal(run.stderr.match(/^hubmirror:/m), null, "no failure reported");

		// The upstream was asked for the three cards, no listing, and the files of those three only.
		const cards = new Set(hub.requests({ route: "revision" }).map((r) => r.repo));
		assert.deepEqual([...cards].sort(), ["acme/finetune", "acme/finetune-gguf", "acme/root"]);
		assert.deepEqual(listings(hub), [], "ancestors come from the cards, not from listings");
		assert.deepEqual(reposFetched(hub), ["acme/finetune", "acme/finetune-gguf", "acme/root"]);

		const up = await ctx.lineage(data, ["acme/finetune-gguf", "--up"]);
		assert.equal(up.code, 0);
		assert.equal(
			up.stdout,
			[
				"ancestors",
				"  acme/finetune-gguf",
				"    quantized of: acme/finetune",
				"      finetune of: acme/root",
				"foundation: acme/root",
				"",
			].join("\n"),
		);
		const json = await ctx.lineage(data, ["acme/finetune-gguf", "--up", "--format", "json"]);
		assert.deepEqual(json.json.roots, ["acme/root"]);
		assert.deepEqual(
			json.json.edges,
			[
				{ child: "acme/finetune", parent: "acme/root", relation: "finetune", source: "card", inferred: false },
				{ child: "acme/finetune-gguf", parent: "acme/finetune", relation: "quantized", source: "card", inferred: false },
			],
			"the relations are the upstream's base_model:RELATION tags (the gguf one inferred by the hub, not declared)",
		);
		assert.deepEqual(json.json.nodes.map((n) => [n.id, n.mirrored]), [
			["acme/finetune-gguf", true],
			["acme/finetune", true],
			["acme/root", true],
		]);
		assert.deepEqual(
			json.json.nodes.map((n) => [n.pipeline_tag, n.library_name]),
			[[null, "gguf"], ["text-generation", "transformers"], ["text-generation", "transformers"]],
		);

		await assertMirrorHoldsExactly(ctx, data, ["acme/finetune", "acme/finetune-gguf", "acme/root"]);
	});

	scenario("--ancestors through a merge whose second base is not upstream: a node, not mirrored, exit 0", async (ctx) => {
		const hub = await ctx.startHub();
		const data = newDataDir();

		const run = await ctx.sync(data, ["--ancestors", "acme/merge"]);
		assert.equal(run.code, 0, "a base model the upstream lacks does not fail the sync");
		assert.deepEqual(syncedIds(run), ["acme/merge", "acme/finetune", "acme/root"]);
		const warnings = run.stderr.split("\n").filter((l) => l.includes(MISSING_BASE));
		assert.ok(warnings.some((l) => /\bwarn/.test(l) && /not on the upstream/.test(l)), `a warning names ${MISSING_BASE}`);
		assert.equal(run.stderr.match(/^hubmirror:/m), null, "no failure reported");
		// One request for the missing card (anonymous: the Hub's bare 401), and nothing else of it.
		assert.deepEqual(hub.requests({ repo: MISSING_BASE }).map((r) => [r.route, r.status]), [["revision", 401]]);
		assert.deepEqual(reposFetched(hub), ["acme/finetune", "acme/merge", "acme/root"]);

		const up = await ctx.lineage(data, ["acme/merge", "--up"]);
		assert.equal(
			up.stdout,
			[
				"ancestors",
				"  acme/merge",
				"    merge of: acme/finetune",
				"      finetune of: acme/root",
				`    merge of: ${MISSING_BASE} (not mirrored)`,
				`foundation: acme/root ${MISSING_BASE}`,
				"",
			].join("\n"),
		);
		const json = await ctx.lineage(data, ["acme/merge", "--up", "--format", "json"]);
		assert.deepEqual(
			json.json.nodes.find((n) => n.id === MISSING_BASE),
			{ id: MISSING_BASE, mirrored: false },
			"a model the upstream does not have is a bare node: no details",
		);
		assert.deepEqual(json.json.roots, ["acme/root", MISSING_BASE]);
		assertEachModelOnce(json.json);

		const mirror = await assertMirrorHoldsExactly(ctx, data, ["acme/finetune", "acme/merge", "acme/root"]);
		const missing = await fetch(`${mirror.url}/api/models/${MISSING_BASE}`);
		assert.equal(missing.status, 404);

		// With a token the Hub answers 404 RepoNotFound instead: the same outcome.
		const withToken = newDataDir();
		const before404 = hub.log.length;
		const tokenRun = await ctx.run(
			["sync", "--data", withToken, "--upstream", hub.url, "--retries", RETRIES, "--token-env", "LINEAGE_HUB_TOKEN", "--ancestors", "acme/merge"],
			{ LINEAGE_HUB_TOKEN: "hf_lineage_test_token" },
		);
		assert.equal(tokenRun.code, 0);
		assert.deepEqual(syncedIds(tokenRun), ["acme/merge", "acme/finetune", "acme/root"]);
		assert.deepEqual(
			hub.log.slice(before404).filter((r) => r.repo === MISSING_BASE).map((r) => [r.route, r.status, r.errorCode]),
			[["revision", 404, "RepoNotFound"]],
		);

		// Again, unchanged upstream: nothing downloaded, still exit 0.
		const before = hub.log.length;
		const again = await ctx.sync(data, ["--ancestors", "acme/merge"]);
		assert.equal(again.code, 0);
		assert.deepEqual([...again.stdout.matchAll(/^\S+: up to date/gm)].length, 3);
		assert.deepEqual(hub.log.slice(before).filter((r) => ["tree", "resolve", "cdn"].includes(r.route)), []);
	});

	// b. Descendants, --max-count -----------------------------------------------------------------

	scenario("--descendants quantized --max-count 2 takes the two most downloaded, through listing pages", async (ctx) => {
		const hub = await ctx.startHub();
		const data = newDataDir();

		const run = await ctx.sync(data, ["--descendants", "quantized", "--max-count", "2", "acme/finetune"]);
		assert.equal(run.code, 0, "the sync must succeed");
		assert.deepEqual(syncedIds(run), ["acme/finetune", "acme/finetune-gguf", "acme/finetune-awq"], "most downloaded first");

		// The listing: the Hub's query, 4 children in pages of 2, the second page from the Link cursor.
		const lists = hub.requests({ route: "list" });
		assert.ok(lists.length >= 2, "the listing was read");
		const first = new URL(lists[0].url, hub.url).searchParams;
		assert.equal(first.get("filter"), "base_model:quantized:acme/finetune");
		assert.equal(first.get("sort"), "downloads");
		assert.equal(first.get("direction"), "-1");
		assert.ok(lists[0].link, "the first page has a next link");
		const paged = lists.filter((r) => r.cursor !== null);
		assert.ok(paged.length >= 1, "pagination was followed: no request with a cursor");
		assert.ok(lists[0].link.includes(paged[0].url), "the second page is the URL the Link header gave");
		assert.deepEqual(
			lists.map((r) => r.filters.join(",")),
			lists.map(() => "base_model:quantized:acme/finetune"),
			"only quantized children were listed (--max-count reached after the first level)",
		);
		assert.ok(lists.every((r) => r.status === 200));

		assert.deepEqual(reposFetched(hub), ["acme/finetune", "acme/finetune-awq", "acme/finetune-gguf"]);
		await assertMirrorHoldsExactly(ctx, data, ["acme/finetune", "acme/finetune-awq", "acme/finetune-gguf"]);
	});

	scenario("--descendants quantized without --max-count: every page's children (here 4 over 2 pages)", async (ctx) => {
		const hub = await ctx.startHub();
		const data = newDataDir();
		const run = await ctx.sync(data, ["acme/finetune", "--descendants=quantized"]);
		assert.equal(run.code, 0);
		assert.deepEqual(syncedIds(run), [
			"acme/finetune",
			"acme/finetune-gguf",
			"acme/finetune-awq",
			"acme/finetune-gptq",
			"acme/finetune-int8",
		]);
		assert.ok(
			listings(hub).some((l) => l.filter === "base_model:quantized:acme/finetune" && l.cursor !== null),
			"the second page of the children was read",
		);
		await assertMirrorHoldsExactly(ctx, data, [
			"acme/finetune",
			"acme/finetune-awq",
			"acme/finetune-gguf",
			"acme/finetune-gptq",
			"acme/finetune-int8",
		]);
	});

	scenario("a listing page answered 429 is retried; a listing that keeps failing fails the walk, not the rule's repo", async (ctx) => {
		const hub = await ctx.startHub();
		hub.inject({ route: "list", page: 1, kind: "429", rateLimitReset: 1 });
		const data = newDataDir();
		const run = await ctx.sync(data, ["--descendants", "quantized", "acme/finetune"]);
		assert.equal(run.code, 0, "a rate-limited listing page is retried");
		const children = hub.requests({ route: "list" }).filter((r) => r.filters.join() === "base_model:quantized:acme/finetune");
		const pages = children.map((r) => [r.cursor === null ? "first" : "next", r.status]);
		assert.deepEqual(pages, [["first", 200], ["next", 429], ["next", 200]], "the second page, again after the 429");
		const [limited, retried] = children.slice(1);
		assert.equal(limited.url, retried.url, "the same page asked again");
		assert.ok(retried.t - limited.t >= 950, `RateLimit t=1 honoured: retried after ${retried.t - limited.t} ms`);
		assert.equal(syncedIds(run).length, 5, "the children of both pages were mirrored");

		hub.inject({ route: "list", kind: "500", times: Infinity });
		const failing = newDataDir();
		const failed = await ctx.sync(failing, ["--descendants", "quantized", "acme/finetune"]);
		assert.equal(failed.code, 1, "a lineage walk that fails is a problem");
		assert.match(failed.stderr, /^hubmirror: lineage of acme\/finetune: listing of base_model:quantized:acme\/finetune: .*500/m);
		assert.deepEqual(syncedIds(failed), ["acme/finetune"], "the rule's own repo is still mirrored");
		await assertMirrorHoldsExactly(ctx, failing, ["acme/finetune"]);
	});

	// c. Descendants, --min-downloads, transitively ---------------------------------------------------

	scenario("--descendants finetune,quantized,adapter --min-downloads 120: at or above the threshold, transitively", async (ctx) => {
		const hub = await ctx.startHub();
		const data = newDataDir();

		const run = await ctx.sync(data, ["--descendants", "finetune,quantized,adapter", "--min-downloads", "120", "acme/root"]);
		assert.equal(run.code, 0, "the sync must succeed");
		// Level by level, each level most downloaded first; acme/finetune-gptq has exactly 120.
		assert.deepEqual(syncedIds(run), [
			"acme/root",
			"acme/finetune",
			"acme/root-gguf",
			"acme/finetune-gguf",
			"acme/finetune-lora",
			"acme/finetune-awq",
			"acme/finetune-gptq",
		]);
		// acme/root-tiny-ft (30) is left out, and so is its child with 8000 downloads: the walk goes
		// down through the models it takes. acme/merge is a merge, not asked for.
		const listedParents = new Set(listings(hub).map((l) => l.filter.replace(/^base_model:[a-z]+:/, "")));
		assert.deepEqual(
			[...listedParents].sort(),
			["acme/finetune", "acme/finetune-awq", "acme/finetune-gguf", "acme/finetune-gptq", "acme/finetune-lora", "acme/root", "acme/root-gguf"],
			"children were listed for the models taken, and only those",
		);
		for (const l of listings(hub)) {
			assert.match(l.filter, /^base_model:(finetune|quantized|adapter):/, `unexpected listing ${l.filter}`);
		}
		assert.ok(listings(hub).some((l) => l.cursor !== null), "pagination was followed");
		const expected = [
			"acme/finetune",
			"acme/finetune-awq",
			"acme/finetune-gguf",
			"acme/finetune-gptq",
			"acme/finetune-lora",
			"acme/root",
			"acme/root-gguf",
		];
		assert.deepEqual(reposFetched(hub), expected);
		await assertMirrorHoldsExactly(ctx, data, expected);

		// The mirrored children's own cards give their edges, found going down from the root.
		const down = await ctx.lineage(data, ["acme/root", "--down", "--format", "json"]);
		assert.deepEqual(
			down.json.edges.map((e) => [e.child, e.parent, e.relation, e.source]),
			[
				["acme/finetune", "acme/root", "finetune", "card"],
				["acme/finetune-awq", "acme/finetune", "quantized", "card"],
				["acme/finetune-gguf", "acme/finetune", "quantized", "card"],
				["acme/finetune-gptq", "acme/finetune", "quantized", "card"],
				["acme/finetune-lora", "acme/finetune", "adapter", "card"],
				["acme/root-gguf", "acme/root", "quantized", "card"],
			],
		);
		assert.ok(down.json.nodes.every((n) => n.mirrored), "every node of the family here is mirrored");
	});

	// d. --lineage-metadata-only ----------------------------------------------------------------------

	const METADATA_EDGES = [
		["acme/finetune", "acme/root", "finetune"],
		["acme/finetune-awq", "acme/finetune", "quantized"],
		["acme/finetune-gguf", "acme/finetune", "quantized"],
		["acme/finetune-gptq", "acme/finetune", "quantized"],
		["acme/finetune-int8", "acme/finetune", "quantized"],
		["acme/finetune-lora", "acme/finetune", "adapter"],
		["acme/root-gguf", "acme/root", "quantized"],
		["acme/root-tiny-ft", "acme/root", "finetune"],
		["acme/tiny-ft-gguf", "acme/root-tiny-ft", "quantized"],
	];

	/** The /api/lineage/models/acme/root?direction=down body expected after the metadata-only sync. */
	function expectedMetadataLineage() {
		const detail = (id) => ({
			id,
			pipeline_tag: spec(id).pipelineTag === undefined ? "text-generation" : spec(id).pipelineTag,
			library_name: spec(id).libraryName ?? "transformers",
			downloads: spec(id).downloads,
		});
		const relatives = METADATA_EDGES.map(([child]) => child).sort();
		return {
			root: "acme/root",
			nodes: [
				{ ...detail("acme/root"), mirrored: true },
				...relatives.map((id) => ({ ...detail(id), mirrored: false })),
			],
			edges: METADATA_EDGES.map(([child, parent, relation]) => ({ child, parent, relation, source: "listing", inferred: false })),
		};
	}

	scenario("--lineage-metadata-only records the relatives' edges and details, and mirrors no file of theirs", async (ctx) => {
		const hub = await ctx.startHub();
		const data = newDataDir();

		const run = await ctx.sync(data, ["--lineage-metadata-only", "--descendants", "finetune,quantized,adapter", "acme/root"]);
		assert.equal(run.code, 0, "the sync must succeed");
		assert.match(run.stdout, /^lineage: recorded 9 relatives without their files$/m);
		assert.deepEqual(syncedIds(run), ["acme/root"], "only the rule's own model is mirrored");
		assert.deepEqual(reposFetched(hub), ["acme/root"], "no relative's tree or file was fetched");
		assert.deepEqual(
			[...new Set(hub.requests({ route: "revision" }).map((r) => r.repo))],
			["acme/root"],
			"the relatives' details come from the listings",
		);

		const mirror = await assertMirrorHoldsExactly(ctx, data, ["acme/root"]);
		for (const id of ["acme/finetune", "acme/finetune-gguf", "acme/tiny-ft-gguf"]) {
			const res = await fetch(`${mirror.url}/api/models/${id}`);
			assert.equal(res.status, 404, `${id} must not be served`);
			await res.arrayBuffer();
		}

		const res = await fetch(`${mirror.url}/api/lineage/models/acme/root?direction=down`);
		assert.equal(res.status, 200);
		const body = await res.json();
		const expected = expectedMetadataLineage();
		assert.equal(body.root, expected.root);
		assert.deepEqual(Object.keys(body).sort(), ["edges", "nodes", "root"], "no roots going down");
		assert.equal(body.nodes.length, expected.nodes.length, `nodes: ${body.nodes.map((n) => n.id).join(", ")}`);
		for (const [i, node] of expected.nodes.entries()) {
			assert.deepEqual(body.nodes[i], node, `node ${i} (${node.id})`);
		}
		assert.equal(body.edges.length, expected.edges.length);
		for (const [i, edge] of expected.edges.entries()) {
			assert.deepEqual(body.edges[i], edge, `edge ${i} (${edge.child} -> ${edge.parent})`);
		}

		// The CLI reads the same registry: the same graph.
		const cli = await ctx.lineage(data, ["acme/root", "--down", "--format", "json"]);
		assert.deepEqual(cli.json, body, "`hubmirror lineage --down --format json` and the API agree");
		const text = await ctx.lineage(data, ["acme/root", "--down"]);
		assert.match(text.stdout, /^      quantized: acme\/tiny-ft-gguf \(not mirrored\)$/m);
		assert.match(text.stdout, /^    finetune: acme\/finetune \(not mirrored\)$/m);

		// A later sync with files takes them from the same upstream, and the recorded details stay.
		const later = await ctx.sync(data, ["acme/finetune-lora"]);
		assert.equal(later.code, 0);
		const lora = (await ctx.lineage(data, ["acme/finetune-lora", "--up", "--format", "json"])).json;
		assert.deepEqual(lora.nodes.find((n) => n.id === "acme/finetune-lora").mirrored, true);
		assert.deepEqual(lora.nodes.find((n) => n.id === "acme/finetune"), { ...expected.nodes.find((n) => n.id === "acme/finetune") });
	});

	scenario(
		"a model mirrored for the first time carries the upstream's download count (lineage node and /api/models)",
		async (ctx) => {
			await ctx.startHub();
			const data = newDataDir();
			const run = await ctx.sync(data, ["--lineage-metadata-only", "--descendants", "finetune", "acme/root"]);
			assert.equal(run.code, 0);
			const graph = (await ctx.lineage(data, ["acme/root", "--down", "--format", "json"])).json;
			assert.equal(graph.nodes[0].downloads, 5000, "lineage node of acme/root: downloads");
			const mirror = await ctx.serve(data);
			const info = await (await fetch(`${mirror.url}/api/models/acme/root`)).json();
			assert.equal(info.downloads, 5000, "/api/models/acme/root: downloads");
		},
	);

	// e. Cycles, self-references, invalid ids, case variants ---------------------------------------

	scenario("--ancestors through a self-reference, a case-variant cycle and invalid ids ends, each model once", async (ctx) => {
		const hub = await ctx.startHub();
		const data = newDataDir();

		const run = await ctx.sync(data, ["--ancestors", "odd/selfish"]);
		assert.equal(run.code, 0, "odd cards are logged and skipped, not failures");
		const synced = syncedIds(run).map((id) => id.toLowerCase());
		assert.deepEqual(synced, ["odd/selfish", "odd/cycle-b", "odd/cycle-a"], "each model of the cycle once");
		assert.match(run.stderr, /odd\/selfish: skipping base_model 'odd\/selfish': a model is not its own base/);
		assert.match(run.stderr, /skipping base_model: invalid repo id 'not a valid id'/);
		assert.match(run.stderr, /skipping base_model: invalid repo id '\.\.\/\.\.\/etc\/passwd'/);
		// Each card read at most twice (walk, then mirror), the invalid ids never asked for.
		for (const r of hub.requests({ route: "revision" })) {
			assert.ok(["odd/selfish", "odd/cycle-a", "odd/cycle-b"].includes(r.repo.toLowerCase()), `asked for ${r.url}`);
		}
		const perRepo = new Map();
		for (const r of hub.requests({ route: "revision" })) perRepo.set(r.repo.toLowerCase(), (perRepo.get(r.repo.toLowerCase()) ?? 0) + 1);
		for (const [id, count] of perRepo) assert.ok(count <= 2, `${id}'s card was read ${count} times`);
		assert.ok(hub.log.length < 60, `${hub.log.length} requests for three small repos`);

		const graph = (await ctx.lineage(data, ["odd/selfish", "--format", "json"])).json;
		assertEachModelOnce(graph);
		assert.equal(graph.nodes.length, 3);
		assert.ok(graph.edges.every((e) => e.child.toLowerCase() !== e.parent.toLowerCase()), "no self-edge from a card");
		assert.ok(!graph.nodes.some((n) => /\s|\.\./.test(n.id)), "no invalid id became a node");
		const text = await ctx.lineage(data, ["odd/selfish"]);
		assert.equal(text.code, 0);
		assertTextShowsEachModelOnce(text.stdout);
		const mirror = await ctx.serve(data);
		assert.deepEqual((await listedModels(mirror)).map((id) => id.toLowerCase()), ["odd/cycle-a", "odd/cycle-b", "odd/selfish"]);
		for (const id of ["odd/cycle-a", "odd/cycle-b", "odd/selfish"]) await assertRepoMirrored(mirror, hub, id);
	});

	scenario("--descendants through a cycle and a model listed as its own child ends, each model once", async (ctx) => {
		const hub = await ctx.startHub();
		const data = newDataDir();

		const run = await ctx.sync(data, ["--descendants", "finetune", "odd/cycle-a"]);
		assert.equal(run.code, 0);
		assert.deepEqual(syncedIds(run), ["odd/cycle-a", "odd/cycle-b", "odd/selfish"]);
		// The hub lists odd/selfish among its own children (its card names itself): listed once, not followed.
		const firstPages = listings(hub).filter((l) => l.cursor === null).map((l) => l.filter);
		assert.deepEqual(firstPages, [
			"base_model:finetune:odd/cycle-a",
			"base_model:finetune:odd/cycle-b",
			"base_model:finetune:odd/selfish",
		]);
		assert.deepEqual(reposFetched(hub), ["odd/cycle-a", "odd/cycle-b", "odd/selfish"]);

		const graph = (await ctx.lineage(data, ["odd/cycle-a", "--format", "json"])).json;
		assertEachModelOnce(graph);
		assert.deepEqual(graph.nodes.map((n) => n.id), ["odd/cycle-a", "odd/cycle-b", "odd/selfish"]);
		assert.deepEqual(graph.edges.map((e) => [e.child, e.parent]), [
			["odd/cycle-a", "odd/cycle-b"],
			["odd/cycle-b", "odd/cycle-a"],
			["odd/selfish", "odd/cycle-b"],
		]);
		const text = await ctx.lineage(data, ["odd/cycle-a"]);
		assertTextShowsEachModelOnce(text.stdout);
		assert.equal(
			text.stdout,
			[
				"ancestors",
				"  odd/cycle-a",
				"    finetune of: odd/cycle-b",
				"      finetune of: odd/cycle-a (see above)",
				"descendants",
				"  odd/cycle-a",
				"    finetune: odd/cycle-b",
				"      finetune: odd/cycle-a (see above)",
				"      finetune: odd/selfish",
				"",
			].join("\n"),
		);
	});

	scenario("--lineage-metadata-only through a cycle and a self-listed model ends, each model once", async (ctx) => {
		await ctx.startHub();
		const data = newDataDir();
		const run = await ctx.sync(data, ["--lineage-metadata-only", "--descendants", "finetune", "odd/cycle-a"]);
		assert.equal(run.code, 0);
		assert.match(run.stdout, /^lineage: recorded 2 relatives without their files$/m);
		const graph = (await ctx.lineage(data, ["odd/cycle-a", "--format", "json"])).json;
		assertEachModelOnce(graph);
		assert.deepEqual(
			graph.nodes.map((n) => [n.id, n.mirrored, n.downloads]),
			[
				["odd/cycle-a", true, spec("odd/cycle-a").downloads],
				["odd/cycle-b", false, 40],
				["odd/selfish", false, 20],
			],
		);
		const text = await ctx.lineage(data, ["odd/cycle-a"]);
		assertTextShowsEachModelOnce(text.stdout);
	});

	scenario(
		"a model the listing gives as its own child records no self-edge (as a card's self-reference is skipped)",
		async (ctx) => {
			await ctx.startHub();
			const data = newDataDir();
			const run = await ctx.sync(data, ["--lineage-metadata-only", "--descendants", "finetune", "odd/cycle-a"]);
			assert.equal(run.code, 0);
			const graph = (await ctx.lineage(data, ["odd/cycle-a", "--format", "json"])).json;
			const selfEdges = graph.edges.filter((e) => e.child.toLowerCase() === e.parent.toLowerCase());
			assert.deepEqual(selfEdges, [], "self-edges recorded");
		},
	);

	scenario(
		"a base model named in another case is mirrored under the upstream's id",
		async (ctx) => {
			await ctx.startHub();
			const data = newDataDir();
			const run = await ctx.sync(data, ["--ancestors", "acme/finetune-awq"]);
			assert.equal(run.code, 0);
			assert.deepEqual(syncedIds(run), ["acme/finetune-awq", "acme/finetune", "acme/root"], "the ids the upstream gives");
			const mirror = await ctx.serve(data);
			const info = await (await fetch(`${mirror.url}/api/models/acme/finetune`)).json();
			assert.equal(info.id, "acme/finetune", "the mirrored repo's id");
		},
	);

	scenario("a case variant in a card still finds the base: mirrored once, served in any case", async (ctx) => {
		const hub = await ctx.startHub();
		const data = newDataDir();
		const run = await ctx.sync(data, ["--ancestors", "acme/finetune-awq"]);
		assert.equal(run.code, 0);
		assert.deepEqual(syncedIds(run).map((id) => id.toLowerCase()), ["acme/finetune-awq", "acme/finetune", "acme/root"]);
		// Then the same base through its own spelling: up to date, not mirrored a second time.
		const again = await ctx.sync(data, ["--ancestors", "acme/finetune-gguf"]);
		assert.equal(again.code, 0);
		assert.match(again.stdout, /^acme\/finetune@main: up to date/im);
		const graph = (await ctx.lineage(data, ["acme/root", "--down", "--format", "json"])).json;
		assertEachModelOnce(graph);
		assert.equal(graph.nodes.length, 4);
		const mirror = await ctx.serve(data);
		assert.equal((await listedModels(mirror)).length, 4, "four repos, the case variant not twice");
		for (const spelling of ["acme/finetune", "Acme/FineTune", "ACME/FINETUNE"]) {
			const res = await fetch(`${mirror.url}/api/models/${spelling}`);
			assert.equal(res.status, 200, `${spelling}: ${res.status}`);
			assert.equal((await res.json()).sha, hub.repo("acme/finetune").sha);
		}
	});

	// f. The same rules in `serve --config` ---------------------------------------------------------

	scenario("[[mirror]] rules with ancestors, descendants and lineage_metadata_only mirror what the CLI does", async (ctx) => {
		const hub = await ctx.startHub();
		const config = join(workRoot, `config-${++dirCounter}.toml`);
		await writeFile(
			config,
			[
				"[upstream]",
				`url = "${hub.url}"`,
				"",
				"[schedule]",
				"interval_seconds = 3600",
				"",
				"[sync]",
				`retries = ${RETRIES}`,
				`stall_timeout_seconds = ${STALL_TIMEOUT_S}`,
				"",
				"[[mirror]]",
				'repo = "acme/finetune-gguf"',
				"ancestors = true",
				"",
				"[[mirror]]",
				'repo = "acme/finetune"',
				'descendants = ["quantized"]',
				"max_count = 2",
				"",
				"[[mirror]]",
				'repo = "acme/root"',
				'descendants = ["finetune", "quantized", "adapter"]',
				"min_downloads = 1000",
				"lineage_metadata_only = true",
				"",
			].join("\n"),
		);
		const expected = ["acme/finetune", "acme/finetune-awq", "acme/finetune-gguf", "acme/root"];

		const served = newDataDir();
		const mirror = await ctx.serve(served, { args: ["--config", config], keepStderr: 20_000 });
		const status = await eventually(
			async () => {
				const body = await (await fetch(`${mirror.url}/api/mirror/status`)).json();
				const done = body.repos.filter((r) => r.in_sync).map((r) => r.id.toLowerCase());
				return expected.every((id) => done.includes(id)) ? body : null;
			},
			15_000,
			`the scheduler mirrored ${expected.join(", ")}`,
		);
		await hubQuiet(hub);
		const after = await (await fetch(`${mirror.url}/api/mirror/status`)).json();
		assert.deepEqual(after.repos.map((r) => r.id).sort(), expected, "the scheduled sync mirrored these and no other");
		assert.ok(after.repos.every((r) => r.in_sync && r.last_error === null), JSON.stringify(status.repos));
		assert.ok(mirror.alive(), "serve is still running");
		assert.deepEqual(reposFetched(hub), expected, "no other repo's files were fetched");
		assert.deepEqual(await listedModels(mirror), expected);
		for (const id of expected) await assertRepoMirrored(mirror, hub, id);
		const servedLineage = await (await fetch(`${mirror.url}/api/lineage/models/acme/root?direction=both`)).json();

		// The CLI, the same three rules, in another data dir.
		const cliData = newDataDir();
		for (const args of [
			["--ancestors", "acme/finetune-gguf"],
			["--descendants", "quantized", "--max-count", "2", "acme/finetune"],
			["--descendants", "finetune,quantized,adapter", "--min-downloads", "1000", "--lineage-metadata-only", "acme/root"],
		]) {
			const run = await ctx.sync(cliData, args);
			assert.equal(run.code, 0);
		}
		const cliMirror = await ctx.serve(cliData);
		assert.deepEqual(await listedModels(cliMirror), expected);
		const cliLineage = await (await fetch(`${cliMirror.url}/api/lineage/models/acme/root?direction=both`)).json();
		assert.deepEqual(servedLineage, cliLineage, "the scheduled sync and the CLI record the same lineage");
		assert.deepEqual(
			servedLineage.nodes.filter((n) => !n.mirrored).map((n) => [n.id, n.downloads]),
			[["acme/root-gguf", 1500]],
			"the metadata-only rule recorded acme/root-gguf, the one relative above 1000 not mirrored by another rule",
		);
	});

	// g. Bad input -------------------------------------------------------------------------------------

	for (const { label, args, message } of [
		{
			label: "an unknown relation in --descendants",
			args: ["--descendants", "finetune,bogus", "acme/root"],
			message: "hubmirror: descendant relation must be finetune, adapter, quantized or merge, got 'bogus'",
		},
		{
			label: "--max-count without --descendants",
			args: ["--ancestors", "--max-count", "2", "acme/root"],
			message: "hubmirror: a minimum of downloads or a maximum count needs descendants to apply to",
		},
		{
			label: "--min-downloads without --descendants",
			args: ["--min-downloads", "10", "acme/root"],
			message: "hubmirror: a minimum of downloads or a maximum count needs descendants to apply to",
		},
		{
			label: "--lineage-metadata-only alone",
			args: ["--lineage-metadata-only", "acme/root"],
			message: "hubmirror: lineage metadata only needs ancestors or descendants to record",
		},
		{
			label: "--ancestors with --type dataset",
			args: ["--ancestors", "--type", "dataset", "acme/data"],
			message: "hubmirror: --ancestors and --descendants apply to models only",
		},
		{
			label: "--descendants with --type dataset",
			args: ["--type", "dataset", "--descendants", "quantized", "acme/data"],
			message: "hubmirror: --ancestors and --descendants apply to models only",
		},
	]) {
		scenario(`sync with ${label}: exit 2, one clear line, nothing asked upstream`, async (ctx) => {
			const hub = await ctx.startHub();
			const data = newDataDir();
			const run = await ctx.sync(data, args);
			assert.equal(run.code, 2, "usage errors exit 2");
			assert.equal(run.stderr.trim(), message);
			assert.equal(run.stdout, "");
			assert.deepEqual(hub.log, [], "the upstream was not contacted");
			await assert.rejects(stat(data), { code: "ENOENT" }, "no data dir was created");
		});
	}

	for (const { label, rule, message } of [
		{ label: "an unknown relation", rule: ['descendants = ["quantized", "bogus"]'], message: /mirror\[0\]: descendant relation must be finetune, adapter, quantized or merge, got 'bogus'/ },
		{ label: "max_count without descendants", rule: ["ancestors = true", "max_count = 3"], message: /mirror\[0\]: a minimum of downloads or a maximum count needs descendants/ },
		{ label: "ancestors on a dataset", rule: ['type = "dataset"', "ancestors = true"], message: /mirror\[0\]: ancestors and descendants apply to models only/ },
		{ label: "descendants given as a string", rule: ['descendants = "quantized"'], message: /mirror\[0\]\.descendants: must be an array of strings/ },
	]) {
		scenario(`serve --config with ${label} in a [[mirror]] rule: exit 2 naming the file and the rule`, async (ctx) => {
			const hub = await ctx.startHub();
			const config = join(workRoot, `config-${++dirCounter}.toml`);
			await writeFile(config, ["[upstream]", `url = "${hub.url}"`, "", "[[mirror]]", 'repo = "acme/root"', ...rule, ""].join("\n"));
			const data = newDataDir();
			const run = await ctx.run(["serve", "--data", data, "--listen", "127.0.0.1:0", "--config", config]);
			assert.equal(run.code, 2, "a bad config exits 2");
			assert.ok(run.stderr.includes(config), `stderr names ${config}`);
			assert.match(run.stderr, message);
			assert.doesNotMatch(run.stdout, /listening/, "the server did not start");
			assert.deepEqual(hub.log, [], "the upstream was not contacted");
		});
	}
});

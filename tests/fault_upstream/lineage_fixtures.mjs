// What the lineage sync tests (lineage_*.test.mjs) share: the upstream's models and the checks of
// what a sync mirrored. The tests run `hubmirror sync --ancestors / --descendants` (and the same
// rules in a `hubmirror serve --config` file) against fake_hub.mjs, which derives `base_model:ID`
// and `base_model:RELATION:ID` tags (and `baseModels`) from each card as the Hub does and serves
// the `/api/models?filter=...&sort=downloads&direction=-1` listing in pages of 2 with `Link`
// cursors.
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
// Plain Node 20; everything runs on 127.0.0.1 with port 0.

import assert from "node:assert/strict";

import { pseudoRandomBytes } from "../support/harness.mjs";
import { assertRepoServed, hubScenarios } from "./scenario.mjs";

export const RETRIES = 1;
export const STALL_TIMEOUT_S = 2;

/**
 * The scenarios of one lineage test file (see scenario.mjs): a hub serving FAMILY. Its repo info
 * states no `baseModels` unless a scenario starts it with `baseModels: true`: the client then
 * reads each model's lineage from its card and the Hub's base_model tags, every odd card included.
 */
export function lineageScenarios(prefix) {
	return hubScenarios({
		prefix,
		retries: RETRIES,
		stallTimeout: STALL_TIMEOUT_S,
		timeout: 20_000,
		runTimeoutMs: 15_000,
		hubDefaults: { repos: FAMILY, baseModels: false },
	});
}

// ---------------------------------------------------------------------------------------------
// The upstream's models
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

export const MISSING_BASE = "ghost/vanished-base";

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

export function spec(id) {
	return FAMILY.find((s) => s.id === id);
}

// ---------------------------------------------------------------------------------------------
// Helpers and assertions
// ---------------------------------------------------------------------------------------------

/** `hubmirror lineage --data DIR ARGS...` in a scenario; `json` is the parsed stdout with --format json. */
export async function lineage(ctx, dataDir, args) {
	const run = await ctx.run(["lineage", "--data", dataDir, ...args]);
	if (run.code === 0 && args.includes("json")) run.json = JSON.parse(run.stdout);
	return run;
}

/** Repo ids of a `hubmirror sync` stdout ("ID@main: mirrored ..." / "up to date"), in order. */
export function syncedIds(run) {
	return [...run.stdout.matchAll(/^(\S+)@main: (?:mirrored|up to date)/gm)].map((m) => m[1]);
}

/** Every model id the served mirror lists (following its Link pages), sorted. */
export async function listedModels(mirror) {
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

/** Serves the mirror and checks that it holds exactly `ids`, each with all its files. */
export async function assertMirrorHoldsExactly(ctx, dataDir, ids) {
	const mirror = await ctx.serve(dataDir);
	assert.deepEqual(await listedModels(mirror), [...ids].sort(), "the models mirrored");
	for (const id of ids) await assertRepoServed(mirror, ctx.hub, id);
	return mirror;
}

/** Repos whose files the hub was asked for (tree listings or downloads), sorted, once each. */
export function reposFetched(hub) {
	const ids = hub.log.filter((r) => ["tree", "resolve", "resolve-cache", "cdn"].includes(r.route)).map((r) => r.repo);
	return [...new Set(ids)].sort();
}

/** The listing requests the hub answered, as { filter, cursor } (first pages: cursor null). */
export function listings(hub) {
	return hub.requests({ route: "list" }).map((r) => ({ filter: r.filters.join(","), cursor: r.cursor, status: r.status, n: r.n }));
}

/** A lineage graph lists each model once (ids compared in any case) and each edge once. */
export function assertEachModelOnce(graph) {
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
export function assertTextShowsEachModelOnce(text) {
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

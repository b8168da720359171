// `hubmirror sync --lineage-metadata-only` against fake_hub.mjs (its models: lineage_fixtures.mjs):
// the relatives' edges and details are recorded from the none of their files mirrored;
// what /api/lineage and `hubmirror lineage` then say.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test lineage_metadata.test.mjs
//
// Everything runs on 127.0.0.1 with port 0, in a temporary directory removed afterwards.

import assert from "node:assert/strict";
import { describe } from "node:test";

import { assertMirrorHoldsExactly, lineage, lineageScenarios, reposFetched, spec, syncedIds } from "./lineage_fixtures.mjs";

const { scenario, newDataDir } = lineageScenarios("hubmirror-lineage-meta-");

describe("hubmirror sync --lineage-metadata-only against a Hub-like upstream", () => {
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
		const cli = await lineage(ctx, data, ["acme/root", "--down", "--format", "json"]);
		assert.deepEqual(cli.json, body, "`hubmirror lineage --down --format json` and the API agree");
		const text = await lineage(ctx, data, ["acme/root", "--down"]);
		assert.match(text.stdout, /^      quantized: acme\/tiny-ft-gguf \(not mirrored\)$/m);
		assert.match(text.stdout, /^    finetune: acme\/finetune \(not mirrored\)$/m);

		// A later sync with files takes them from the same upstream, and the recorded details stay.
		const later = await ctx.sync(data, ["acme/finetune-lora"]);
		assert.equal(later.code, 0);
		const lora = (await lineage(ctx, data, ["acme/finetune-lora", "--up", "--format", "json"])).json;
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
			const graph = (await lineage(ctx, data, ["acme/root", "--down", "--format", "json"])).json;
			assert.equal(graph.nodes[0].downloads, 5000, "lineage node of acme/root: downloads");
			const mirror = await ctx.serve(data);
			const info = await (await fetch(`${mirror.url}/api/models/acme/root`)).json();
			assert.equal(info.downloads, 5000, "/api/models/acme/root: downloads");
		},
	);
});

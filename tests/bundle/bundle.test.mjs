// Air-gapped transfer tests: the real hubmirror binary moving a model family and a dataset from an
// "outer" data dir to an "inner" one with `hubmirror export` and `hubmirror import-bundle` only.
//
//  a. Round trip: export --all in several volumes, import-bundle with the outer instance's public
//     key (from its /api/integrity/key); both sides then serve the same bytes, headers, repo info,
//     refs, commits, trees and lineage, and list the same inventory.
//  b. Importing the same bundle again changes nothing; a bundle also restores a blob that verify
//     quarantined.
//  c. Incremental: export --have the inner side's inventory carries only the new blob; importing it
//     moves the branch, and the old commit stays readable by id.
//  d. Refusals (exit 1, the problem named, nothing published): a flipped byte in a volume, an
//     altered bundle.json, an unknown signer, a missing or short volume; --allow-untrusted accepts
//     an unknown signer loudly, but still verifies the content.
//  e. Resume: an import that fails at the last blob keeps the blobs it verified; an export killed
//     with SIGKILL keeps the volumes it finished.
//  f. Usage errors exit 2.
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test
//
// Plain Node 20 (no npm packages); everything on 127.0.0.1 with port 0, in a temporary directory
// removed afterwards.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { existsSync, watch } from "node:fs";
import { chmod, cp, mkdir, readdir, readFile, rm, stat, truncate, unlink, writeFile } from "node:fs/promises";

import { dirname, join } from "node:path";

import { blobPath, diagnoseOutput, encodePath, killChildren, makeWorkRoot, runHubmirror, serveHubmirror, spawnHubmirror, writeSource } from "../fault_upstream/harness.mjs";
import { pseudoRandomBytes, sha256Hex } from "../fault_upstream/fake_hub.mjs";

const BIN = process.env.HUBMIRROR_BIN;
const MiB = 1024 * 1024;

// The family: a root model, its fine-tune, a quantization of the fine-tune, and a dataset.
const ROOT = "acme/bundle-root";
const FT = "acme/bundle-root-instruct";
const QUANT = "acme/bundle-root-instruct-GGUF";
const DATASET = "acme/bundle-corpus";
const BIG = "acme/bundle-big";
const LOCAL = "acme/inner-only";

const VOLUME = "1M";
const VOLUME_BYTES = MiB;

const EXPORTED = /^exported (\d+) repos, (\d+) commits, (\d+) blobs \((\d+) bytes\) in (\d+) volumes(?: \((\d+) kept from an interrupted run\))? to (.+), signed by key ([0-9a-f]+)$/m;
const IMPORTED = /^imported bundle signed by key ([0-9a-f]+) \((trusted|NOT TRUSTED)\): (\d+) repos, (\d+) commits \((\d+) published or moved\), (\d+) new blobs \((\d+) bytes\), (\d+) blobs already here$/m;

let workRoot;
let dirCounter = 0;
/** The outer data dir: the four repos imported. */
let outer;
let outerPem;
let outerKeyId;
/** The public key of an unrelated instance. */
let otherPem;
let otherKeyId;
/** A data dir with state of its own (one unrelated repo): where refused bundles are tried. */
let prior;

/** @type {{ type: "model" | "dataset", name: string, files: Map<string, Buffer>, src?: string }[]} */
const REPOS = [];
/** The distinct contents of all four repos, by sha256. */
const CONTENT = new Map();

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

function newDir(label) {
	return join(workRoot, `${String(++dirCounter).padStart(2, "0")}-${label}`);
}

function volumeName(index) {
	return `volume-${String(index + 1).padStart(5, "0")}.dat`;
}

async function hubmirror(t, args, options) {
	const run = await runHubmirror(BIN, args, options);
	diagnoseOutput(t, run);
	assert.equal(run.timedOut, false, `hubmirror ${args.join(" ")} timed out`);
	return run;
}

async function importRepo(t, dataDir, srcDir, repo, type = "model") {
	const run = await hubmirror(t, ["import", "--data", dataDir, "--repo", repo, "--type", type, srcDir]);
	assert.equal(run.code, 0, `hubmirror import ${repo} failed (exit ${run.code}): ${run.stderr}`);
	const m = /as commit ([0-9a-f]{40})$/m.exec(run.stdout);
	assert.ok(m, `no commit id in: ${run.stdout}`);
	return m[1];
}

/** `hubmirror export`, which must succeed; its printed counts. */
async function exportBundle(t, data, out, args) {
	const run = await hubmirror(t, ["export", "--data", data, "--out", out, ...args]);
	assert.equal(run.code, 0, `hubmirror export failed (exit ${run.code}): ${run.stderr}`);
	const m = EXPORTED.exec(run.stdout);
	assert.ok(m, `no summary line in: ${run.stdout}`);
	return {
		run,
		repos: Number(m[1]),
		commits: Number(m[2]),
		blobs: Number(m[3]),
		bytes: Number(m[4]),
		volumes: Number(m[5]),
		kept: m[6] === undefined ? 0 : Number(m[6]),
		keyId: m[8],
	};
}

function importArgs(data, bundle, { keys = [outerPem], extra = [] } = {}) {
	return ["import-bundle", "--data", data, bundle, ...keys.flatMap((k) => ["--trusted-key", k]), ...extra];
}

/** `hubmirror import-bundle`, which must succeed; its printed counts. */
async function importBundle(t, data, bundle, options) {
	const run = await hubmirror(t, importArgs(data, bundle, options));
	assert.equal(run.code, 0, `hubmirror import-bundle failed (exit ${run.code}): ${run.stderr}`);
	const m = IMPORTED.exec(run.stdout);
	assert.ok(m, `no summary line in: ${run.stdout}`);
	return {
		run,
		signer: m[1],
		trusted: m[2] === "trusted",
		repos: Number(m[3]),
		commits: Number(m[4]),
		published: Number(m[5]),
		newBlobs: Number(m[6]),
		newBytes: Number(m[7]),
		already: Number(m[8]),
	};
}

async function readBundle(dir) {
	return JSON.parse(await readFile(join(dir, "bundle.json"), "utf8"));
}

async function copyOf(dir, label) {
	const copy = newDir(label);
	await cp(dir, copy, { recursive: true });
	return copy;
}

async function getJson(url) {
	const res = await fetch(url);
	const text = await res.text();
	assert.equal(res.status, 200, `GET ${url}: ${res.status} ${text.slice(0, 300)}`);
	return JSON.parse(text);
}

/** A public key PEM and its id, from the /api/integrity/key of a server on `data`. */
async function publicKeyOf(data, file) {
	const server = await serveHubmirror(BIN, data);
	try {
		const res = await fetch(`${server.url}/api/integrity/key`);
		assert.equal(res.status, 200);
		const pem = await res.text();
		assert.match(pem, /^-----BEGIN PUBLIC KEY-----\n/);
		await mkdir(dirname(file), { recursive: true });
		await writeFile(file, pem);
		return res.headers.get("x-key-id");
	} finally {
		await server.stop();
	}
}

async function withServers(dirs, fn) {
	const servers = [];
	try {
		for (const d of dirs) servers.push(await serveHubmirror(BIN, d));
		return await fn(...servers);
	} finally {
		for (const s of servers) await s.stop();
	}
}

/**
 * What an inner data dir shows: the listings its server answers, and its inventory. Compared
 * before and after a refused import, which must change none of it.
 */
async function visibleState(t, data) {
	const listings = await withServers([data], async (server) => ({
		models: await getJson(`${server.url}/api/models?full=true`),
		datasets: await getJson(`${server.url}/api/datasets?full=true`),
	}));
	const inventory = await hubmirror(t, ["inventory", "--data", data, "--json"]);
	assert.equal(inventory.code, 0, "hubmirror inventory --json");
	return { ...listings, inventory: JSON.parse(inventory.stdout) };
}

function apiBase(type) {
	return type === "dataset" ? "api/datasets" : "api/models";
}

function fileBase(type) {
	return type === "dataset" ? "datasets/" : "";
}

/** Repo info without what is local to an instance: its object id and creation date do not travel. */
function portableInfo(info) {
	const { _id, createdAt, ...rest } = info;
	return rest;
}

const FILE_HEADERS = ["etag", "x-linked-etag", "x-linked-size", "x-repo-commit", "content-length"];

/**
 * Asserts that two servers serve `repo` alike at `rev`: repo info (`?blobs=true`), refs, commits,
 * the recursive tree, and every file (resolve and raw) byte for byte with the same headers, equal
 * to `files`. Returns the outer side's info.
 */
async function assertServedAlike(outerServer, innerServer, { type, name }, files, rev = "main") {
	const infoPath = rev === "main" ? `${apiBase(type)}/${name}?blobs=true` : `${apiBase(type)}/${name}/revision/${rev}?blobs=true`;
	const [a, b] = [await getJson(`${outerServer.url}/${infoPath}`), await getJson(`${innerServer.url}/${infoPath}`)];
	assert.deepEqual(b.siblings, a.siblings, `${name}@${rev}: siblings`);
	assert.equal(b.sha, a.sha, `${name}@${rev}: sha`);
	assert.deepEqual(portableInfo(b), portableInfo(a), `${name}@${rev}: repo info apart from _id and createdAt`);
	assert.deepEqual(a.siblings.map((s) => s.rfilename).sort(), [...files.keys()].sort(), `${name}@${rev}: the files imported`);

	for (const path of [`refs`, `commits/${rev}`, `tree/${rev}?recursive=true`]) {
		const url = `${apiBase(type)}/${name}/${path}`;
		assert.deepEqual(await getJson(`${innerServer.url}/${url}`), await getJson(`${outerServer.url}/${url}`), `${name}: /${url}`);
	}

	for (const [path, content] of files) {
		for (const kind of ["resolve", "raw"]) {
			const url = `${fileBase(type)}${name}/${kind}/${rev}/${encodePath(path)}`;
			const [ra, rb] = [await fetch(`${outerServer.url}/${url}`), await fetch(`${innerServer.url}/${url}`)];
			const [ba, bb] = [Buffer.from(await ra.arrayBuffer()), Buffer.from(await rb.arrayBuffer())];
			assert.equal(ra.status, 200, `outer ${url}: status`);
			assert.equal(rb.status, 200, `inner ${url}: status (${rb.headers.get("x-error-message")})`);
			assert.ok(bb.equals(ba), `${url}: the same bytes on both sides`);
			if (kind === "resolve") assert.ok(bb.equals(content), `${url}: the bytes imported`);
			for (const h of FILE_HEADERS) assert.equal(rb.headers.get(h), ra.headers.get(h), `${url}: ${h}`);
			assert.equal(rb.headers.get("x-repo-commit"), a.sha, `${url}: X-Repo-Commit`);
		}
	}
	return a;
}

function blobCovering(bundle, streamOffset) {
	const blob = bundle.blobs.find((b) => b.offset <= streamOffset && streamOffset < b.offset + b.size);
	assert.ok(blob, `no blob at stream offset ${streamOffset}`);
	return blob;
}

async function flipByte(path, offset) {
	const buf = await readFile(path);
	buf[offset] ^= 0xff;
	await writeFile(path, buf);
}

/** The volume files of a bundle directory, sorted. */
async function volumesIn(dir) {
	return (await readdir(dir)).filter((n) => /^volume-\d{5}\.dat$/.test(n)).sort();
}

// ---------------------------------------------------------------------------------------------
// Fixture
// ---------------------------------------------------------------------------------------------

before(async (t) => {
	workRoot = await makeWorkRoot(BIN, "hubmirror-bundle-");

	// config.json is the same in the root and its fine-tune: one blob for two repos.
	const config = Buffer.from(JSON.stringify({ architectures: ["BundleForCausalLM"], model_type: "bundle", hidden_size: 128 }, null, 2) + "\n");
	REPOS.push(
		{
			type: "model",
			name: ROOT,
			files: new Map([
				["model.safetensors", pseudoRandomBytes("root", 3 * MiB + 4097)],
				["config.json", config],
				["tokenizer/vocab.txt", Buffer.from("<s>\n</s>\nhello\nworld\n")],
				["README.md", Buffer.from("---\nlicense: apache-2.0\npipeline_tag: text-generation\nlibrary_name: transformers\n---\n\n# bundle-root\n")],
			]),
		},
		{
			type: "model",
			name: FT,
			files: new Map([
				["model.safetensors", pseudoRandomBytes("ft", 256 * 1024 + 3)],
				["config.json", config],
				["README.md", Buffer.from(`---\nbase_model: ${ROOT}\nlicense: apache-2.0\n---\n\n# bundle-root-instruct\n`)],
			]),
		},
		{
			type: "model",
			name: QUANT,
			files: new Map([
				["bundle-root-instruct-Q4_K_M.gguf", pseudoRandomBytes("quant", 128 * 1024 + 5)],
				["README.md", Buffer.from(`---\nbase_model: ${FT}\nbase_model_relation: quantized\n---\n\n# GGUF\n`)],
			]),
		},
		{
			type: "dataset",
			name: DATASET,
			files: new Map([
				["data/train-00000-of-00001.parquet", pseudoRandomBytes("corpus", 96 * 1024 + 7)],
				["docs/read me.txt", Buffer.from("a file name with a space\n")],
				["README.md", Buffer.from("---\nlicense: cc-by-4.0\n---\n\n# bundle-corpus\n")],
			]),
		},
	);
	outer = newDir("outer");
	for (const repo of REPOS) {
		repo.src = newDir(`src-${repo.name.split("/")[1]}`);
		await writeSource(repo.src, repo.files);
		repo.commit = await importRepo(t, outer, repo.src, repo.name, repo.type);
		for (const content of repo.files.values()) CONTENT.set(sha256Hex(content), content);
	}

	const keys = newDir("keys");
	outerPem = join(keys, "outer.pem");
	outerKeyId = await publicKeyOf(outer, outerPem);
	otherPem = join(keys, "other.pem");
	otherKeyId = await publicKeyOf(newDir("other-instance"), otherPem);
	assert.notEqual(otherKeyId, outerKeyId, "two data dirs must not share a key");

	prior = newDir("prior");
	const localSrc = newDir("src-local");
	await writeSource(localSrc, [["weights.safetensors", pseudoRandomBytes("local", 70_000)], ["README.md", Buffer.from("# local\n")]]);
	await importRepo(t, prior, localSrc, LOCAL);
});

after(async () => {
	killChildren();
	if (workRoot) await rm(workRoot, { recursive: true, force: true });
});

/** The bundle of a's export --all, and the inner data dir a imported it into. */
let bundleA;
let exportA;
let innerA;
let importA;

const totalBytes = () => [...CONTENT.values()].reduce((n, b) => n + b.length, 0);

// ---------------------------------------------------------------------------------------------
// a. Round trip
// ---------------------------------------------------------------------------------------------

describe("a. round trip: export --all in volumes, import-bundle with the outer key", () => {
	before(async (t) => {
		bundleA = newDir("bundle-a");
		exportA = await exportBundle(t, outer, bundleA, ["--all", "--volume-size", VOLUME]);
		innerA = newDir("inner-a");
		importA = await importBundle(t, innerA, bundleA);
	});

	test("export: the counts, the volumes and bundle.json", async () => {
		const bytes = totalBytes();
		assert.equal(exportA.repos, REPOS.length);
		assert.equal(exportA.commits, REPOS.length);
		assert.equal(exportA.blobs, CONTENT.size, "every distinct content once (config.json is shared)");
		assert.equal(exportA.bytes, bytes);
		const nVolumes = Math.ceil(bytes / VOLUME_BYTES);
		assert.ok(nVolumes >= 3, `the fixture should span several volumes, not ${nVolumes}`);
		assert.equal(exportA.volumes, nVolumes);
		assert.equal(exportA.kept, 0);
		assert.equal(exportA.keyId, outerKeyId, "signed by the outer instance's key");

		const names = (await readdir(bundleA)).sort();
		assert.deepEqual(names, ["bundle.json", ...Array.from({ length: nVolumes }, (_, i) => volumeName(i))], "no plan or partial file left");
		for (let i = 0; i < nVolumes; i++) {
			const expected = i < nVolumes - 1 ? VOLUME_BYTES : bytes - (nVolumes - 1) * VOLUME_BYTES;
			assert.equal((await stat(join(bundleA, volumeName(i)))).size, expected, volumeName(i));
		}

		const { bundle, signature } = await readBundle(bundleA);
		assert.equal(typeof signature, "string");
		assert.equal(bundle.key_id, outerKeyId);
		assert.equal(bundle.volume_size, VOLUME_BYTES);
		assert.equal(bundle.volumes, nVolumes);
		assert.equal(bundle.bytes, bytes);
		assert.deepEqual(bundle.repos.map((r) => `${r.type} ${r.name}`).sort(), REPOS.map((r) => `${r.type} ${r.name}`).sort());
		assert.deepEqual(bundle.blobs.map((b) => b.sha256).sort(), [...CONTENT.keys()].sort());
		// The stream: the blobs back to back, each one's bytes at its offset.
		const stream = Buffer.concat(await Promise.all(Array.from({ length: nVolumes }, (_, i) => readFile(join(bundleA, volumeName(i))))));
		let offset = 0;
		for (const blob of [...bundle.blobs].sort((x, y) => x.offset - y.offset)) {
			assert.equal(blob.offset, offset, `${blob.sha256}: offset`);
			assert.equal(blob.size, CONTENT.get(blob.sha256).length, `${blob.sha256}: size`);
			assert.ok(stream.subarray(offset, offset + blob.size).equals(CONTENT.get(blob.sha256)), `${blob.sha256}: bytes in the volumes`);
			offset += blob.size;
		}
		assert.equal(offset, bytes);
	});

	test("import-bundle: trusted, every repo, commit and blob new", () => {
		assert.equal(importA.signer, outerKeyId);
		assert.equal(importA.trusted, true);
		assert.equal(importA.repos, REPOS.length);
		assert.equal(importA.commits, REPOS.length);
		assert.equal(importA.published, REPOS.length);
		assert.equal(importA.newBlobs, CONTENT.size);
		assert.equal(importA.newBytes, totalBytes());
		assert.equal(importA.already, 0);
		assert.doesNotMatch(importA.run.stdout + importA.run.stderr, /UNTRUSTED/i);
	});

	test("both sides serve every file, repo info, refs, commits and trees alike", { timeout: 20_000 }, async () => {
		await withServers([outer, innerA], async (o, i) => {
			for (const repo of REPOS) {
				const info = await assertServedAlike(o, i, repo, repo.files);
				assert.equal(info.sha, repo.commit, `${repo.name}: the imported commit`);
			}
			for (const api of ["api/models?full=true", "api/datasets?full=true"]) {
				const [a, b] = [await getJson(`${o.url}/${api}`), await getJson(`${i.url}/${api}`)];
				assert.deepEqual(b.map(portableInfo), a.map(portableInfo), `/${api}`);
			}
		});
	});

	test("lineage: the same text from hubmirror lineage, the same /api/lineage JSON", { timeout: 20_000 }, async (t) => {
		for (const args of [[QUANT, "--up"], [ROOT, "--down"], [FT, "--stats"]]) {
			const [a, b] = [await hubmirror(t, ["lineage", "--data", outer, ...args]), await hubmirror(t, ["lineage", "--data", innerA, ...args])];
			assert.equal(a.code, 0, `outer: lineage ${args.join(" ")}`);
			assert.equal(b.code, 0, `inner: lineage ${args.join(" ")}`);
			assert.equal(b.stdout, a.stdout, `lineage ${args.join(" ")}`);
		}
		const up = await hubmirror(t, ["lineage", "--data", innerA, QUANT, "--up"]);
		assert.match(up.stdout, new RegExp(`quantized of: ${FT}`));
		assert.match(up.stdout, new RegExp(`^foundation: ${ROOT}$`, "m"));
		const down = await hubmirror(t, ["lineage", "--data", innerA, ROOT, "--down"]);
		assert.match(down.stdout, new RegExp(`: ${FT}$`, "m"));
		assert.match(down.stdout, new RegExp(`quantized: ${QUANT}$`, "m"));

		await withServers([outer, innerA], async (o, i) => {
			for (const query of [`${ROOT}?direction=both`, `${QUANT}?direction=up`, `${FT}?direction=both&stats=true`]) {
				const url = `api/lineage/models/${query}`;
				const [a, b] = [await getJson(`${o.url}/${url}`), await getJson(`${i.url}/${url}`)];
				assert.deepEqual(b, a, `/${url}`);
			}
			const graph = await getJson(`${i.url}/api/lineage/models/${ROOT}?direction=both`);
			const edges = graph.edges.map((e) => `${e.child} -${e.relation}-> ${e.parent}`).sort();
			assert.deepEqual(edges, [`${FT} -finetune-> ${ROOT}`, `${QUANT} -quantized-> ${FT}`].sort());
		});
	});

	test("inventory: the same repos, refs, commits and blobs on both sides", async (t) => {
		const [a, b] = [await hubmirror(t, ["inventory", "--data", outer, "--json"]), await hubmirror(t, ["inventory", "--data", innerA, "--json"])];
		assert.equal(a.code, 0);
		assert.equal(b.code, 0);
		const [ia, ib] = [JSON.parse(a.stdout), JSON.parse(b.stdout)];
		const byName = (x, y) => `${x.type} ${x.name}`.localeCompare(`${y.type} ${y.name}`);
		assert.deepEqual([...ib.repos].sort(byName), [...ia.repos].sort(byName));
		assert.deepEqual([...ib.blobs].sort(), [...ia.blobs].sort());
		assert.deepEqual([...ib.blobs].sort(), [...CONTENT.keys()].sort());
		for (const repo of REPOS) {
			const entry = ib.repos.find((r) => r.name === repo.name && r.type === repo.type);
			assert.ok(entry, `${repo.name} in the inventory`);
			assert.deepEqual(entry.refs, { main: repo.commit });
			assert.deepEqual(entry.commits, [repo.commit]);
		}
		// And the text form says the same.
		const text = await hubmirror(t, ["inventory", "--data", innerA]);
		assert.equal(text.code, 0);
		assert.match(text.stdout, new RegExp(`^${REPOS.length} repos, ${CONTENT.size} blobs$`, "m"));
	});
});

// ---------------------------------------------------------------------------------------------
// b. Idempotent
// ---------------------------------------------------------------------------------------------

describe("b. importing the same bundle again", () => {
	test("changes nothing: 0 new blobs, 0 published, the same listings and inventory", { timeout: 20_000 }, async (t) => {
		const inner = await copyOf(innerA, "inner-b");
		const before = await visibleState(t, inner);
		const again = await importBundle(t, inner, bundleA);
		assert.equal(again.newBlobs, 0);
		assert.equal(again.newBytes, 0);
		assert.equal(again.published, 0);
		assert.equal(again.already, CONTENT.size);
		assert.equal(again.commits, REPOS.length);
		assert.deepEqual(await visibleState(t, inner), before);
	});

	test("restores a blob that verify quarantined", { timeout: 20_000 }, async (t) => {
		const inner = await copyOf(innerA, "inner-b-repair");
		const [repo] = REPOS;
		const content = repo.files.get("model.safetensors");
		const path = blobPath(inner, sha256Hex(content));
		await chmod(path, 0o644);
		await flipByte(path, 100);
		assert.equal((await hubmirror(t, ["verify", "--data", inner])).code, 1, "verify finds the damage");
		const repair = await importBundle(t, inner, bundleA);
		assert.equal(repair.newBlobs, 1);
		assert.equal(repair.newBytes, content.length);
		assert.equal(repair.already, CONTENT.size - 1);
		const verified = await hubmirror(t, ["verify", "--data", inner]);
		assert.equal(verified.code, 0, "verify after the bundle restored the blob");
		await withServers([inner], async (server) => {
			const res = await fetch(`${server.url}/${repo.name}/resolve/main/model.safetensors`);
			assert.equal(res.status, 200, `served again (${res.headers.get("x-error-code")})`);
			assert.ok(Buffer.from(await res.arrayBuffer()).equals(content));
		});
	});
});

// ---------------------------------------------------------------------------------------------
// c. Incremental
// ---------------------------------------------------------------------------------------------

describe("c. incremental: export --have the inner inventory", () => {
	test("carries only the new blob; the branch moves, the old commit stays readable", { timeout: 20_000 }, async (t) => {
		const outerC = await copyOf(outer, "outer-c");
		const innerC = await copyOf(innerA, "inner-c");
		const [root] = REPOS;
		const NEW = "generation_config.json";
		const added = Buffer.from(JSON.stringify({ max_new_tokens: 256, temperature: 0.7 }) + "\n");
		const src = await copyOf(root.src, "src-root-v2");
		await writeSource(src, [[NEW, added]]);
		const newCommit = await importRepo(t, outerC, src, ROOT);
		assert.notEqual(newCommit, root.commit);

		const inventory = await hubmirror(t, ["inventory", "--data", innerC, "--json"]);
		assert.equal(inventory.code, 0);
		const have = join(newDir("have"), "inventory.json");
		await mkdir(dirname(have), { recursive: true });
		await writeFile(have, inventory.stdout);

		const bundle = newDir("bundle-c");
		const exported = await exportBundle(t, outerC, bundle, ["--have", have, "--all", "--volume-size", VOLUME]);
		assert.equal(exported.blobs, 1, "exactly the new blob");
		assert.equal(exported.bytes, added.length);
		assert.equal(exported.volumes, 1);
		assert.equal(exported.repos, REPOS.length);
		assert.equal(exported.commits, REPOS.length + 1, "the whole history, without the content the far side has");
		const { bundle: doc } = await readBundle(bundle);
		assert.equal(doc.blobs.length, 1);
		assert.equal(doc.blobs[0].sha256, sha256Hex(added));
		assert.deepEqual(await volumesIn(bundle), [volumeName(0)]);
		assert.equal((await stat(join(bundle, volumeName(0)))).size, added.length);

		const imported = await importBundle(t, innerC, bundle);
		assert.equal(imported.newBlobs, 1);
		assert.equal(imported.newBytes, added.length);
		assert.equal(imported.already, 0);
		assert.equal(imported.published, 1, "only the new commit of the root");

		await withServers([outerC, innerC], async (o, i) => {
			const files = new Map([...root.files, [NEW, added]]);
			const info = await assertServedAlike(o, i, root, files);
			assert.equal(info.sha, newCommit, "main moved to the new commit");
			// The old commit, by id, as it was.
			await assertServedAlike(o, i, root, root.files, root.commit);
			const gone = await fetch(`${i.url}/${ROOT}/resolve/${root.commit}/${NEW}`);
			assert.equal(gone.status, 404, "the new file is not in the old commit");
			assert.equal(gone.headers.get("x-error-code"), "EntryNotFound");
			const commits = await getJson(`${i.url}/api/models/${ROOT}/commits/main`);
			assert.deepEqual(commits.map((c) => c.id), [newCommit, root.commit]);
		});
		const after = await hubmirror(t, ["inventory", "--data", innerC, "--json"]);
		const entry = JSON.parse(after.stdout).repos.find((r) => r.name === ROOT);
		assert.deepEqual(entry.refs, { main: newCommit });
		assert.deepEqual([...entry.commits].sort(), [root.commit, newCommit].sort());
	});
});

// ---------------------------------------------------------------------------------------------
// d. Refusals
// ---------------------------------------------------------------------------------------------

/**
 * Each case damages a copy of bundle A (or picks keys) and says what the refusal must name. The
 * import runs against a copy of the data dir with state of its own, which must not change.
 */
const REFUSALS = [
	{
		name: "a flipped byte in a volume",
		async damage(dir) {
			const { bundle } = await readBundle(dir);
			const within = 12345;
			await flipByte(join(dir, volumeName(1)), within);
			const blob = blobCovering(bundle, VOLUME_BYTES + within);
			return new RegExp(`blob ${blob.sha256} of the bundle: sha256 mismatch: expected ${blob.sha256}, got [0-9a-f]{64}`);
		},
	},
	{
		name: "bundle.json altered: a repo renamed",
		async damage(dir) {
			const document = await readBundle(dir);
			document.bundle.repos.find((r) => r.name === ROOT).name = "acme/not-what-was-signed";
			await writeFile(join(dir, "bundle.json"), JSON.stringify(document, null, 1));
			return new RegExp(`signature does not match its content: it was altered after key ${outerKeyId} signed it`);
		},
	},
	{
		name: "bundle.json altered: a blob's sha256 changed",
		async damage(dir) {
			const document = await readBundle(dir);
			document.bundle.blobs[0].sha256 = sha256Hex(Buffer.from("something else"));
			await writeFile(join(dir, "bundle.json"), JSON.stringify(document, null, 1));
			return /signature does not match its content/;
		},
	},
	{
		name: "bundle.json altered: the signature",
		async damage(dir) {
			const document = await readBundle(dir);
			const sig = Buffer.from(document.signature, "base64");
			sig[5] ^= 0x01;
			document.signature = sig.toString("base64");
			await writeFile(join(dir, "bundle.json"), JSON.stringify(document, null, 1));
			return /signature does not match its content/;
		},
	},
	{
		name: "an unknown signer: only another instance's key trusted",
		keys: () => [otherPem],
		async damage() {
			return new RegExp(`signed by key ${outerKeyId}, which is not trusted: pass its public key with --trusted-key`);
		},
	},
	{
		name: "a missing volume",
		async damage(dir) {
			await unlink(join(dir, volumeName(2)));
			return new RegExp(`the bundle's ${volumeName(2).replaceAll(".", "\\.")} is missing`);
		},
	},
	{
		name: "a short volume",
		async damage(dir) {
			await truncate(join(dir, volumeName(0)), 1000);
			return new RegExp(`the bundle's ${volumeName(0).replaceAll(".", "\\.")} has 1000 bytes, expected ${VOLUME_BYTES}`);
		},
	},
	{
		name: "--allow-untrusted and an unknown signer, but a blob's sha256 changed in bundle.json",
		keys: () => [otherPem],
		extra: ["--allow-untrusted"],
		async damage(dir) {
			const document = await readBundle(dir);
			const [blob] = document.bundle.blobs;
			const forged = sha256Hex(Buffer.from("forged"));
			blob.sha256 = forged;
			await writeFile(join(dir, "bundle.json"), JSON.stringify(document, null, 1));
			return new RegExp(`blob ${forged} of the bundle: sha256 mismatch`);
		},
	},
];

describe("d. refused bundles: exit 1, the problem named, nothing published", () => {
	for (const c of REFUSALS) {
		test(c.name, { timeout: 20_000 }, async (t) => {
			const bundle = await copyOf(bundleA, "bundle-d");
			const expected = await c.damage(bundle);
			const inner = await copyOf(prior, "inner-d");
			const before = await visibleState(t, inner);
			assert.equal(before.models.length, 1, "the inner side's own repo");

			const run = await hubmirror(t, importArgs(inner, bundle, { keys: c.keys?.() ?? [outerPem], extra: c.extra ?? [] }));
			assert.equal(run.code, 1, `exit 1 (stderr: ${run.stderr})`);
			assert.match(run.stderr, new RegExp(`^hubmirror: bundle ${bundle.replaceAll("/", "\\/")} refused, nothing published: `, "m"));
			assert.match(run.stderr, expected);
			assert.doesNotMatch(run.stdout, /^imported bundle/m);
			assert.deepEqual(await visibleState(t, inner), before, "listings and inventory unchanged");
		});
	}

	test("--allow-untrusted accepts an unknown signer, and says so loudly", { timeout: 20_000 }, async (t) => {
		const inner = await copyOf(prior, "inner-d-untrusted");
		const imported = await importBundle(t, inner, bundleA, { keys: [otherPem], extra: ["--allow-untrusted"] });
		assert.equal(imported.trusted, false);
		assert.equal(imported.signer, outerKeyId);
		assert.match(imported.run.stdout, /\(NOT TRUSTED\)/);
		assert.match(imported.run.stderr, new RegExp(`IMPORTING A BUNDLE FROM AN UNTRUSTED SIGNER \\(key ${outerKeyId}\\)`));
		assert.equal(imported.newBlobs, CONTENT.size);
		assert.equal(imported.published, REPOS.length);
		const state = await visibleState(t, inner);
		assert.deepEqual(state.models.map((m) => m.id).sort(), [ROOT, FT, QUANT, LOCAL].sort());
		assert.deepEqual(state.datasets.map((m) => m.id), [DATASET]);

		// Without any key at all, too.
		const alone = await importBundle(t, await copyOf(prior, "inner-d-untrusted-nokey"), bundleA, { keys: [], extra: ["--allow-untrusted"] });
		assert.equal(alone.trusted, false);
		assert.match(alone.run.stdout, /\(NOT TRUSTED\)/);
	});

	test("a trusted key next to an unknown one is enough", { timeout: 20_000 }, async (t) => {
		const imported = await importBundle(t, await copyOf(prior, "inner-d-two-keys"), bundleA, { keys: [otherPem, outerPem] });
		assert.equal(imported.trusted, true);
	});
});

// ---------------------------------------------------------------------------------------------
// e. Resume
// ---------------------------------------------------------------------------------------------

/**
 * Runs an export and SIGKILLs it as soon as its first volume is complete (watched with inotify,
 * and polled). `killed` is false when it finished first.
 */
async function exportKilledAfterFirstVolume(args, out, timeoutMs = 30_000) {
	await mkdir(out, { recursive: true });
	const child = spawnHubmirror(BIN, args);
	let stdout = "";
	let stderr = "";
	child.stdout.setEncoding("utf8").on("data", (s) => (stdout += s));
	child.stderr.setEncoding("utf8").on("data", (s) => (stderr += s));
	let killed = false;
	const tryKill = () => {
		if (!killed && child.exitCode === null && child.signalCode === null && existsSync(join(out, volumeName(0)))) {
			killed = true;
			child.kill("SIGKILL");
		}
	};
	const watcher = watch(out, tryKill);
	const poll = setInterval(tryKill, 1);
	const guard = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
	const [code, signal] = await once(child, "close");
	watcher.close();
	clearInterval(poll);
	clearTimeout(guard);
	// Killed after its last step (bundle.json written) counts as finished.
	return { args, code, signal, stdout, stderr, killed: killed && signal === "SIGKILL" && !existsSync(join(out, "bundle.json")) };
}

describe("e. resume", () => {
	test("an import that fails at the last blob keeps the others; the next import completes", { timeout: 20_000 }, async (t) => {
		const bundle = await copyOf(bundleA, "bundle-e");
		const { bundle: doc } = await readBundle(bundle);
		const last = [...doc.blobs].sort((x, y) => y.offset - x.offset)[0];
		const volume = join(bundle, volumeName(Math.floor(last.offset / VOLUME_BYTES)));
		const good = await readFile(volume);
		await flipByte(volume, last.offset % VOLUME_BYTES);

		const inner = await copyOf(prior, "inner-e");
		const before = await visibleState(t, inner);
		const failed = await hubmirror(t, importArgs(inner, bundle));
		assert.equal(failed.code, 1, "the damaged last blob refuses the bundle");
		assert.match(failed.stderr, new RegExp(`blob ${last.sha256} of the bundle: sha256 mismatch`));
		assert.deepEqual(await visibleState(t, inner), before, "nothing published");
		for (const blob of doc.blobs) {
			const stored = existsSync(blobPath(inner, blob.sha256));
			assert.equal(stored, blob !== last, `${blob.sha256} ${blob === last ? "not stored (corrupt)" : "stored as it verified"}`);
		}

		await writeFile(volume, good);
		const resumed = await importBundle(t, inner, bundle);
		assert.ok(resumed.already > 0, "the blobs of the failed run are already here");
		assert.equal(resumed.already, doc.blobs.length - 1);
		assert.equal(resumed.newBlobs, 1);
		assert.equal(resumed.newBytes, last.size);
		assert.equal(resumed.published, REPOS.length);
		await withServers([outer, inner], async (o, i) => {
			for (const repo of REPOS) await assertServedAlike(o, i, repo, repo.files);
		});
		assert.equal((await hubmirror(t, ["verify", "--data", inner])).code, 0, "verify after the resumed import");
	});

	// The same resume, deterministic, in a directory that held another, finished bundle (of the
	// root model): the run (of the fine-tune and its quantization) is stopped after its first volume
	// by a directory in the way of the second one's partial file. The volumes of the earlier bundle
	// are not this run's and must not be kept, nor left in the directory.
	test("an interrupted export over an earlier bundle keeps none of that bundle's volumes", { timeout: 20_000 }, async (t) => {
		const size = ["--volume-size", "64K"];
		const out = newDir("bundle-over-earlier");
		const earlier = await exportBundle(t, outer, out, [ROOT, ...size]);
		const reference = newDir("bundle-ft-reference");
		const clean = await exportBundle(t, outer, reference, [FT, QUANT, ...size]);
		assert.ok(clean.volumes >= 3 && earlier.volumes > clean.volumes, `${clean.volumes} and ${earlier.volumes} volumes`);

		// A directory that is not empty where the second volume's temporary file goes: the export
		// cannot clear it away, so it stops there, as if killed after its first volume.
		const blocker = join(out, `${volumeName(1)}.part`);
		await mkdir(blocker);
		await writeFile(join(blocker, "keep"), "");
		const stopped = await hubmirror(t, ["export", "--data", outer, "--out", out, FT, QUANT, ...size]);
		assert.equal(stopped.code, 1, "the export stops at its second volume");
		assert.match(stopped.stderr, /cannot create .*volume-00002\.dat\.part/);
		assert.ok(!existsSync(join(out, "bundle.json")), "the earlier bundle.json is gone: the directory holds an unfinished bundle");
		await rm(blocker, { recursive: true });

		const rerun = await exportBundle(t, outer, out, [FT, QUANT, ...size]);
		assert.equal(rerun.volumes, clean.volumes);
		const imported = await hubmirror(t, importArgs(newDir("inner-over-earlier"), out));
		assert.equal(imported.code, 0, `the resumed bundle imports (it kept ${rerun.kept} volumes): ${imported.stderr}`);
		for (const name of await volumesIn(reference)) {
			assert.ok((await readFile(join(out, name))).equals(await readFile(join(reference, name))), `${name}: the same bytes as an uninterrupted export`);
		}
		assert.equal(rerun.kept, 1, "only the volume this run finished is kept");
		assert.deepEqual(await volumesIn(out), await volumesIn(reference), "no volume of the earlier bundle is left in the directory");
	});

	describe("an export killed with SIGKILL", () => {
		let bigData;
		let bigPem;
		let big;
		before(async (t) => {
			big = pseudoRandomBytes("big", 40 * MiB + 123);
			const src = newDir("src-big");
			await writeSource(src, [["model-00001-of-00001.safetensors", big]]);
			bigData = newDir("outer-big");
			await importRepo(t, bigData, src, BIG);
			bigPem = join(newDir("keys-big"), "big.pem");
			await publicKeyOf(bigData, bigPem);
		});

		test("started again with the same arguments, keeps the volumes it finished", { timeout: 30_000 }, async (t) => {
			const reference = newDir("bundle-big-reference");
			const clean = await exportBundle(t, bigData, reference, [BIG, "--volume-size", "4M"]);
			assert.equal(clean.volumes, 11);

			let out;
			let interrupted;
			const attempts = [];
			for (let attempt = 1; attempt <= 5; attempt++) {
				out = newDir("bundle-big");
				interrupted = await exportKilledAfterFirstVolume(["export", "--data", bigData, "--out", out, BIG, "--volume-size", "4M"], out);
				attempts.push(interrupted.killed ? `killed with ${(await volumesIn(out)).length} volumes done` : `finished first (exit ${interrupted.code})`);
				if (interrupted.killed) break;
			}
			t.diagnostic(`attempts: ${attempts.join("; ")}`);
			const done = interrupted.killed ? await volumesIn(out) : [];
			if (interrupted.killed) {
				assert.ok(!existsSync(join(out, "bundle.json")), "a killed export leaves no bundle.json: the bundle is unfinished");
				assert.ok(done.length >= 1);
				const refused = await hubmirror(t, importArgs(newDir("inner-unfinished"), out, { keys: [bigPem] }));
				assert.equal(refused.code, 2, "an unfinished bundle is not a bundle");
				assert.match(refused.stderr, /is not a finished bundle \(no bundle\.json\)/);
			}

			const rerun = await exportBundle(t, bigData, out, [BIG, "--volume-size", "4M"]);
			assert.equal(rerun.volumes, clean.volumes);
			assert.equal(rerun.blobs, 1);
			assert.equal(rerun.bytes, big.length);
			// The same stream as an export that was never interrupted.
			assert.deepEqual(await volumesIn(out), await volumesIn(reference));
			for (const name of await volumesIn(reference)) {
				assert.ok((await readFile(join(out, name))).equals(await readFile(join(reference, name))), `${name}: the same bytes`);
			}
			assert.deepEqual((await readdir(out)).filter((n) => !/^volume-\d{5}\.dat$/.test(n)), ["bundle.json"], "no plan or partial file left");
			const [a, b] = [(await readBundle(out)).bundle, (await readBundle(reference)).bundle];
			delete a.created_at;
			delete b.created_at;
			assert.deepEqual(a, b);

			const imported = await importBundle(t, newDir("inner-big"), out, { keys: [bigPem] });
			assert.equal(imported.newBlobs, 1);
			assert.equal(imported.newBytes, big.length);

			if (!interrupted.killed) {
				t.skip(`every export finished before the kill (${attempts.length} attempts): the "kept" count is not checked`);
				return;
			}
			assert.equal(rerun.kept, done.length, `the ${done.length} volumes complete at the kill are kept (${rerun.run.stdout.trim()})`);
		});
	});
});

// ---------------------------------------------------------------------------------------------
// f. Usage
// ---------------------------------------------------------------------------------------------

describe("f. usage errors exit 2", () => {
	test("export: neither repos nor --all, or both", async (t) => {
		for (const args of [[], ["--all", ROOT]]) {
			const out = newDir("usage-out");
			const run = await hubmirror(t, ["export", "--data", outer, "--out", out, ...args]);
			assert.equal(run.code, 2, `export ${args.join(" ")}`);
			assert.match(run.stderr, /name the repos to export, or --all \(not both\)/);
			assert.ok(!existsSync(out), "nothing written");
		}
	});

	test("export: a bad --volume-size", async (t) => {
		for (const size of ["1Q", "0", "-4M", "M", "0.1"]) {
			const out = newDir("usage-out");
			const run = await hubmirror(t, ["export", "--data", outer, "--out", out, "--all", `--volume-size=${size}`]);
			assert.equal(run.code, 2, `--volume-size ${size}`);
			assert.match(run.stderr, /--volume-size must be a size such as 700M, 4G or 1048576/);
			assert.ok(!existsSync(out), "nothing written");
		}
	});

	test("export: --have that is missing or not an inventory", async (t) => {
		const notJson = join(workRoot, "not-an-inventory.json");
		await writeFile(notJson, "this is not JSON\n");
		for (const have of [join(workRoot, "no-such-inventory.json"), notJson]) {
			const run = await hubmirror(t, ["export", "--data", outer, "--out", newDir("usage-out"), "--all", "--have", have]);
			assert.equal(run.code, 2, `--have ${have}`);
		}
	});

	test("import-bundle: neither --trusted-key nor --allow-untrusted", async (t) => {
		const inner = newDir("usage-inner");
		const run = await hubmirror(t, ["import-bundle", "--data", inner, bundleA]);
		assert.equal(run.code, 2);
		assert.match(run.stderr, /give the signer's public key with --trusted-key/);
	});

	test("import-bundle: a --trusted-key that is missing or not a PEM key", async (t) => {
		const notPem = join(workRoot, "not-a-key.pem");
		await writeFile(notPem, "not a key\n");
		for (const key of [join(workRoot, "no-such-key.pem"), notPem]) {
			const run = await hubmirror(t, importArgs(newDir("usage-inner"), bundleA, { keys: [key] }));
			assert.equal(run.code, 2, `--trusted-key ${key}`);
		}
	});

	test("import-bundle: a directory without bundle.json", async (t) => {
		const empty = newDir("not-a-bundle");
		await mkdir(empty, { recursive: true });
		const volumesOnly = await copyOf(bundleA, "volumes-only");
		await unlink(join(volumesOnly, "bundle.json"));
		for (const dir of [empty, volumesOnly, join(workRoot, "no-such-dir")]) {
			const inner = await copyOf(prior, "usage-inner");
			const before = await visibleState(t, inner);
			const run = await hubmirror(t, importArgs(inner, dir));
			assert.equal(run.code, 2, dir);
			assert.match(run.stderr, /is not a finished bundle \(no bundle\.json\)/);
			assert.deepEqual(await visibleState(t, inner), before);
		}
	});
});

// What the air-gapped transfer tests (*.test.mjs in this folder) share: an "outer" data dir with a
// model family and a dataset imported, the public keys of two instances, a "prior" data dir with
// state of its own, bundle A (the outer side's `export --all` in several volumes) and the "inner"
// data dir that imported it; and the helpers that run `hubmirror export` / `import-bundle` and
// compare what two instances serve. Plain Node 20 (no npm packages).

import assert from "node:assert/strict";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

import { bearer, encodePath, getJson, importRepo, pseudoRandomBytes, runLogged, sha256Hex, useWorkRoot, withServers, writeSource } from "../support/harness.mjs";

export const MiB = 1024 * 1024;

// The family: a root model, its fine-tune, a quantization of the fine-tune, and a dataset.
export const ROOT = "acme/bundle-root";
export const FT = "acme/bundle-root-instruct";
export const QUANT = "acme/bundle-root-instruct-GGUF";
export const DATASET = "acme/bundle-corpus";
export const BIG = "acme/bundle-big";
export const LOCAL = "acme/inner-only";

export const VOLUME = "1M";
export const VOLUME_BYTES = MiB;

const EXPORTED = /^exported (\d+) repos, (\d+) commits, (\d+) blobs \((\d+) bytes\) in (\d+) volumes(?: \((\d+) kept from an interrupted run\))? to (.+), signed by key ([0-9a-f]+)$/m;
const IMPORTED = /^imported bundle signed by key ([0-9a-f]+) \((trusted|NOT TRUSTED)\): (\d+) repos, (\d+) commits \((\d+) published or moved\), (\d+) new blobs \((\d+) bytes\), (\d+) blobs already here$/m;

/** The outer data dir: the four repos imported. */
export let outer;
export let outerPem;
export let outerKeyId;
/** The public key of an unrelated instance. */
export let otherPem;
export let otherKeyId;
/** A data dir with state of its own (one unrelated repo): where refused bundles are tried. */
export let prior;
/** The bundle of outer's export --all, and the inner data dir that imported it. */
export let bundleA;
export let exportA;
export let innerA;
export let importA;

/** @type {{ type: "model" | "dataset", name: string, files: Map<string, Buffer>, src?: string }[]} */
export const REPOS = [];
/** The distinct contents of all four repos, by sha256. */
export const CONTENT = new Map();

export const totalBytes = () => [...CONTENT.values()].reduce((n, b) => n + b.length, 0);

/** The file name of the volume at `index` (from 0). */
export function volumeName(index) {
	return `volume-${String(index + 1).padStart(5, "0")}.dat`;
}

/** `hubmirror export`, which must succeed; its printed counts. */
export async function exportBundle(t, data, out, args) {
	const run = await runLogged(t, ["export", "--data", data, "--out", out, ...args]);
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

export function importArgs(data, bundle, { keys = [outerPem], extra = [] } = {}) {
	return ["import-bundle", "--data", data, bundle, ...keys.flatMap((k) => ["--trusted-key", k]), ...extra];
}

/** `hubmirror import-bundle`, which must succeed; its printed counts. */
export async function importBundle(t, data, bundle, options) {
	const run = await runLogged(t, importArgs(data, bundle, options));
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

export async function readBundle(dir) {
	return JSON.parse(await readFile(join(dir, "bundle.json"), "utf8"));
}

/** A public key PEM and its id, from the /api/integrity/key of a server on `data`. */
export function publicKeyOf(data, file) {
	return withServers([data], async (server) => {
		const res = await fetch(`${server.url}/api/integrity/key`);
		assert.equal(res.status, 200);
		const pem = await res.text();
		assert.match(pem, /^-----BEGIN PUBLIC KEY-----\n/);
		await mkdir(dirname(file), { recursive: true });
		await writeFile(file, pem);
		return res.headers.get("x-key-id");
	});
}

/**
 * What an inner data dir shows: the listings its server answers, and its inventory. Compared
 * before and after a refused import, which must change none of it.
 */
export async function visibleState(t, data) {
	const listings = await withServers([data], async (server) => ({
		models: await getJson(`${server.url}/api/models?full=true`),
		datasets: await getJson(`${server.url}/api/datasets?full=true`),
	}));
	const inventory = await runLogged(t, ["inventory", "--data", data, "--json"]);
	assert.equal(inventory.code, 0, "hubmirror inventory --json");
	return { ...listings, inventory: JSON.parse(inventory.stdout) };
}

function apiBase(type) {
	return type === "dataset" ? "api/datasets" : "api/models";
}

function fileBase(type) {
	return type === "dataset" ? "datasets/" : "";
}

const FILE_HEADERS = ["etag", "x-linked-etag", "x-linked-size", "x-repo-commit", "content-length"];

/**
 * Asserts that two servers serve `repo` alike at `rev`: repo info (`?blobs=true`), refs, commits,
 * the recursive tree, and every file (resolve and raw) byte for byte with the same headers, equal
 * to `files`. Each side is read with its own token when given (`outerToken`, `innerToken`): a
 * gated or private repo needs one. Returns the outer side's info.
 */
export async function assertServedAlike(outerServer, innerServer, { type, name }, files, rev = "main", { outerToken, innerToken } = {}) {
	const [outerHeaders, innerHeaders] = [bearer(outerToken), bearer(innerToken)];
	const infoPath = rev === "main" ? `${apiBase(type)}/${name}?blobs=true` : `${apiBase(type)}/${name}/revision/${rev}?blobs=true`;
	const [a, b] = [await getJson(`${outerServer.url}/${infoPath}`, outerHeaders), await getJson(`${innerServer.url}/${infoPath}`, innerHeaders)];
	assert.deepEqual(b.siblings, a.siblings, `${name}@${rev}: siblings`);
	assert.equal(b.sha, a.sha, `${name}@${rev}: sha`);
	assert.deepEqual(b, a, `${name}@${rev}: repo info, its object id and dates included`);
	assert.deepEqual(a.siblings.map((s) => s.rfilename).sort(), [...files.keys()].sort(), `${name}@${rev}: the files imported`);

	for (const path of [`refs`, `commits/${rev}`, `tree/${rev}?recursive=true`]) {
		const url = `${apiBase(type)}/${name}/${path}`;
		assert.deepEqual(await getJson(`${innerServer.url}/${url}`, innerHeaders), await getJson(`${outerServer.url}/${url}`, outerHeaders), `${name}: /${url}`);
	}

	for (const [path, content] of files) {
		for (const kind of ["resolve", "raw"]) {
			const url = `${fileBase(type)}${name}/${kind}/${rev}/${encodePath(path)}`;
			const [ra, rb] = [await fetch(`${outerServer.url}/${url}`, { headers: outerHeaders }), await fetch(`${innerServer.url}/${url}`, { headers: innerHeaders })];
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

/** The volume files of a bundle directory, sorted. */
export async function volumesIn(dir) {
	return (await readdir(dir)).filter((n) => /^volume-\d{5}\.dat$/.test(n)).sort();
}

/** Imports the four repos into outer, reads two instances' keys, and fills prior, under `work`. */
async function buildOuter(work, t) {
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
	outer = work.dir("outer");
	for (const repo of REPOS) {
		repo.src = work.dir(`src-${repo.name.split("/")[1]}`);
		await writeSource(repo.src, repo.files);
		repo.commit = await importRepo(t, outer, repo.src, repo.name, repo.type);
		for (const content of repo.files.values()) CONTENT.set(sha256Hex(content), content);
	}

	const keys = work.dir("keys");
	outerPem = join(keys, "outer.pem");
	outerKeyId = await publicKeyOf(outer, outerPem);
	otherPem = join(keys, "other.pem");
	otherKeyId = await publicKeyOf(work.dir("other-instance"), otherPem);
	assert.notEqual(otherKeyId, outerKeyId, "two data dirs must not share a key");

	prior = work.dir("prior");
	const localSrc = work.dir("src-local");
	await writeSource(localSrc, [["weights.safetensors", pseudoRandomBytes("local", 70_000)], ["README.md", Buffer.from("# local\n")]]);
	await importRepo(t, prior, localSrc, LOCAL);
}

/** Exports bundle A from outer and imports it into innerA, under `work`. */
async function buildBundleA(work, t) {
	bundleA = work.dir("bundle-a");
	exportA = await exportBundle(t, outer, bundleA, ["--all", "--volume-size", VOLUME]);
	innerA = work.dir("inner-a");
	importA = await importBundle(t, innerA, bundleA);
}

/** Sets up a test file: its WorkRoot (`prefix`), in which outer, the keys, prior, bundle A and innerA are built first. */
export function useBundleFixture(prefix) {
	return useWorkRoot(prefix, {
		async setup(work, t) {
			await buildOuter(work, t);
			await buildBundleA(work, t);
		},
	});
}

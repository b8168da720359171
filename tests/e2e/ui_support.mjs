// What the browser test of the web UI (ui.test.mjs in this folder) stands on.
//  - The instance it browses: a lineage family, a dataset, a hostile card, a private and a gated
//    repo imported with `hubmirror import`, a repo filled by `hubmirror sync` from a second
//    hubmirror, a user and an admin made with the CLI (each with a named token), all served by
//    `hubmirror serve`; useUiWorld() builds it before the tests and takes it down after them, and
//    `world` holds its URLs, commits, token secrets and the browser.
//  - The browser: Chromium (at /usr/bin/chromium, or CHROMIUM_PATH) launched by playwright-core,
//    pages that record console errors, uncaught exceptions, requests and each HTML answer's
//    headers, navigation by clicks and Enter, sign-in, screenshots (to HUBMIRROR_UI_SCREENSHOTS),
//    and readers of the list, the file table and the lineage graph that check them against the
//    files imported and /api/lineage.

import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

import { chromium } from "playwright-core";

import { BIN, getJson, importRepo, pseudoRandomBytes, runHubmirror, serveHubmirror, sha256Hex, useWorkRoot, writeSource } from "../support/harness.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const CHROMIUM_ARGS = [
	"--headless",
	"--no-sandbox",
	"--disable-gpu",
	"--disable-quic",
	"--no-first-run",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
];
const SCREENSHOTS = process.env.HUBMIRROR_UI_SCREENSHOTS || fileURLToPath(new URL("../../build/ui-screenshots", import.meta.url));

// What every page answers with (the spec's headers).
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

// ---------------------------------------------------------------------------------------------
// The instance
// ---------------------------------------------------------------------------------------------

export const BASE = "acme/base";
export const FINETUNE = "acme/base-ft";
export const ADAPTER = "acme/base-lora";
export const QUANTIZED = "acme/base-gguf";
export const MERGE = "acme/base-merge";
export const UNMIRRORED = "acme/other";
export const FAMILY = [BASE, FINETUNE, ADAPTER, QUANTIZED, MERGE];
export const RELATIONS = ["finetune", "adapter", "quantized", "merge"];
export const INJECTION = "acme/card-injection";
export const PRIVATE = "secret/hidden";
export const GATED = "acme/gated";
export const DATASET = "acme/corpus";
export const SYNCED = "upstream-lab/synced-model";
export const MODELS = [...FAMILY, INJECTION, GATED, SYNCED];

const text = (path, content) => ({ path, content: Buffer.from(content) });
const json = (path, value) => text(path, JSON.stringify(value, null, 2) + "\n");
const random = (path, size) => ({ path, content: pseudoRandomBytes(`ui/${path}/${size}`, size) });
const card = (frontMatter, body) => text("README.md", `---\n${frontMatter}\n---\n\n${body}\n`);

// The hostile card: each line would run script or reach another origin if the card were rendered
// as raw HTML or trusted its URLs.
const INJECTION_CARD = [
	"# Card injection",
	"",
	"Plain text survives.",
	"",
	"<script>window.__pwned=1</script>",
	"",
	'<img src=x onerror="window.__pwned=2">',
	"",
	"[x](javascript:window.__pwned=3)",
	"",
	"![r](http://example.invalid/a.png)",
].join("\n");

/** Each repo: its id, type and files (the files as they are in the source folder imported). */
const REPOS = [
	{
		id: BASE,
		files: [
			card("license: apache-2.0\npipeline_tag: text-generation", "# Base\n\nThe foundation model of the family."),
			json("config.json", { architectures: ["LlamaForCausalLM"], model_type: "llama" }),
			random("model.safetensors", 9 * 1024 + 7),
		],
	},
	{
		id: FINETUNE,
		files: [
			card(`base_model: ${BASE}\nbase_model_relation: finetune\nlicense: apache-2.0`, "# Base FT\n\nA finetune of the base model."),
			json("config.json", { architectures: ["LlamaForCausalLM"], model_type: "llama", torch_dtype: "bfloat16" }),
			random("model.safetensors", 6 * 1024 + 13),
			text("tokenizer/vocab.txt", "hello\nworld\n"),
		],
	},
	{
		id: ADAPTER,
		files: [
			card(`base_model: ${BASE}\nbase_model_relation: adapter\nlibrary_name: peft`, "# Base LoRA"),
			json("adapter_config.json", { base_model_name_or_path: BASE, peft_type: "LORA", r: 8 }),
			random("adapter_model.safetensors", 3 * 1024 + 1),
		],
	},
	{
		id: QUANTIZED,
		files: [card(`base_model: ${FINETUNE}\nbase_model_relation: quantized`, "# Base FT GGUF"), random("base-ft.Q4_K_M.gguf", 5 * 1024 + 3)],
	},
	{
		id: MERGE,
		files: [
			card(`base_model:\n- ${FINETUNE}\n- ${UNMIRRORED}\nbase_model_relation: merge`, "# Base merge"),
			json("config.json", { architectures: ["LlamaForCausalLM"], model_type: "llama" }),
			random("model.safetensors", 4 * 1024 + 9),
		],
	},
	{ id: INJECTION, files: [text("README.md", INJECTION_CARD + "\n")] },
	{ id: PRIVATE, files: [card("license: other", "# Hidden"), json("config.json", { model_type: "bert" })] },
	{
		id: GATED,
		files: [card("license: other", "# Gated\n\nAsk for access first."), json("config.json", { model_type: "bert" }), random("model.safetensors", 2 * 1024 + 5)],
	},
	{
		id: DATASET,
		type: "dataset",
		files: [card("license: cc-by-4.0\ntask_categories:\n- text-classification", "# Corpus"), text("train.csv", "text,label\nhello,1\nworld,0\n")],
	},
];
const SYNCED_FILES = [card("license: mit", "# Synced\n\nFilled by `hubmirror sync` from another hubmirror."), json("config.json", { model_type: "gpt2" })];

/** The servers, the data dirs, each repo's commit, the people's token secrets and token names, the browser. */
export const world = {
	url: "",
	data: "",
	server: undefined,
	upstream: undefined,
	commits: {},
	tokens: {},
	tokenNames: { reader: "reader-laptop", root: "root-console" },
	browser: undefined,
	/** The bodies of every HTML page and script-fetched answer the browser received (promises). */
	bodies: [],
};

/** `hubmirror --data DATA ARGS...` on the served instance, which must succeed; its stdout. */
export async function cli(args) {
	const run = await runHubmirror(BIN, ["--data", world.data, ...args]);
	assert.equal(run.code, 0, `hubmirror ${args.join(" ")} failed (exit ${run.code}): ${run.stderr}`);
	return run.stdout;
}

/** Adds `user` (an admin with `admin`) and a read token of theirs named world.tokenNames[user]. */
async function addPerson(user, { admin = false } = {}) {
	await cli(["user", "add", user, ...(admin ? ["--admin"] : [])]);
	const secret = (await cli(["token", "create", "--user", user, "--name", world.tokenNames[user]])).trimEnd().split("\n").at(-1);
	assert.match(secret, /^hf_[A-Za-z0-9]+$/, `token create --user ${user} printed no secret`);
	world.tokens[user] = secret;
}

/** The instance: both data dirs filled, the people and their tokens, both servers, the browser. */
async function setUp(root, t) {
	await mkdir(SCREENSHOTS, { recursive: true });
	// The second instance, the upstream `hubmirror sync` fills the status page from.
	const upstreamData = root.dir("upstream");
	const syncedSrc = root.dir("src-synced");
	await writeSource(syncedSrc, SYNCED_FILES.map((f) => [f.path, f.content]));
	world.commits[SYNCED] = await importRepo(t, upstreamData, syncedSrc, SYNCED);
	world.upstream = await serveHubmirror(BIN, upstreamData);
	world.data = root.dir("data");
	const sync = await runHubmirror(BIN, ["sync", "--data", world.data, "--upstream", world.upstream.url, "--retries", "1", SYNCED], { timeoutMs: 60_000 });
	assert.equal(sync.code, 0, `hubmirror sync failed (exit ${sync.code})\nstdout:\n${sync.stdout}\nstderr:\n${sync.stderr}`);
	for (const repo of REPOS) {
		const src = root.dir(`src-${repo.id.replace("/", "-")}`);
		await writeSource(src, repo.files.map((f) => [f.path, f.content]));
		world.commits[repo.id] = await importRepo(t, world.data, src, repo.id, repo.type ?? "model");
	}
	await cli(["repo", "settings", PRIVATE, "--private", "true"]);
	await cli(["repo", "settings", GATED, "--gated", "manual"]);
	await addPerson("reader");
	await addPerson("root", { admin: true });
	// The daemon keeps the synced repo mirrored by a rule, which the status page lists.
	const configDir = root.dir("config");
	await mkdir(configDir, { recursive: true });
	const config = join(configDir, "hubmirror.toml");
	await writeFile(config, `[upstream]\nurl = "${world.upstream.url}"\n\n[schedule]\ninterval_seconds = 3600\n\n[[mirror]]\nrepo = "${SYNCED}"\n`);
	world.server = await serveHubmirror(BIN, world.data, { args: ["--config", config], keepStderr: 1_000_000 });
	world.url = world.server.url;
	world.browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
}

async function tearDown() {
	await world.browser?.close();
	await world.server?.stop();
	await world.upstream?.stop();
}

/** Builds the instance before the tests of the file that calls it and takes it down after them. */
export function useUiWorld() {
	return useWorkRoot("hubmirror-e2e-ui-", { setup: setUp, teardown: tearDown, timeout: 120_000 });
}

// ---------------------------------------------------------------------------------------------
// Pages
// ---------------------------------------------------------------------------------------------

/** A directive of a Content-Security-Policy -> its sources, sorted. */
function parsePolicy(policy) {
	const directives = new Map();
	for (const part of (policy ?? "").split(";")) {
		const [name, ...sources] = part.trim().split(/\s+/);
		if (name) directives.set(name.toLowerCase(), sources.sort().join(" "));
	}
	return directives;
}

/**
 * A new page of `context` that records what every test checks: console errors, uncaught
 * exceptions, every request's URL, and each HTML answer's status and headers; the bodies of its
 * HTML pages and script-fetched answers are kept for the secrets check.
 */
export async function openPage(context) {
	const page = await context.newPage();
	const seen = { errors: [], requests: [], documents: [] };
	page.on("console", (msg) => {
		if (msg.type() === "error") seen.errors.push(`console error: ${msg.text()} (at ${msg.location().url || "?"})`);
	});
	page.on("pageerror", (err) => seen.errors.push(`uncaught exception: ${err.message}`));
	page.on("request", (req) => seen.requests.push(req.url()));
	page.on("response", (res) => {
		const type = res.request().resourceType();
		if (type === "document") seen.documents.push({ url: res.url(), status: res.status(), headers: res.headers() });
		if (type === "document" || type === "fetch" || type === "xhr") world.bodies.push(res.text().then((body) => ({ url: res.url(), body }), () => ({ url: res.url(), body: "" })));
	});
	return { page, seen };
}

/**
 * What is wrong with the pages `seen` recorded: console errors and uncaught exceptions (except the
 * browser's note that the page itself answered one of `statuses`), HTML answers without the
 * spec's Content-Security-Policy or nosniff.
 */
function pageProblems(seen, { statuses = [] } = {}) {
	const expected = parsePolicy(CSP);
	const problems = seen.errors.filter((e) => !statuses.some((s) => e.includes(`the server responded with a status of ${s}`)));
	for (const doc of seen.documents) {
		if (doc.status >= 300 && doc.status < 400) continue;
		const policy = doc.headers["content-security-policy"];
		if (policy === undefined) problems.push(`${doc.url}: no Content-Security-Policy`);
		else if (JSON.stringify([...parsePolicy(policy)].sort()) !== JSON.stringify([...expected].sort())) problems.push(`${doc.url}: Content-Security-Policy ${JSON.stringify(policy)}`);
		if (doc.headers["x-content-type-options"] !== "nosniff") problems.push(`${doc.url}: X-Content-Type-Options ${doc.headers["x-content-type-options"]}`);
	}
	return problems;
}

export function assertCleanPages(seen, what, options) {
	assert.deepEqual(pageProblems(seen, options), [], `${what}: console errors, exceptions or headers`);
}

/** Runs `fn(context)` in a fresh browser context (its own cookies) with `options`, then closes it. */
export async function withContext(fn, options = {}) {
	const context = await world.browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
	try {
		return await fn(context);
	} finally {
		await context.close();
	}
}

/** Goes to `path` of the server; the main answer's status must be `status`. */
export async function visit(page, path, status = 200) {
	const res = await page.goto(world.url + path);
	assert.ok(res, `GET ${path}: no answer`);
	assert.equal(res.status(), status, `GET ${path}: status`);
	return res;
}

/**
 * The next document `page` loads at a URL that satisfies `where` (a URL -> boolean), loaded. Unlike
 * waitForURL, never the document already shown: a form may post back to the page's own address.
 */
async function nextDocument(page, where) {
	await page.waitForEvent("framenavigated", { predicate: (frame) => frame === page.mainFrame() && where(new URL(frame.url())), timeout: 15_000 });
	await page.waitForLoadState("load");
}

/** Clicks `locator` and waits for the navigation it starts to land on a URL that satisfies `where`. */
export async function clickThrough(page, locator, where) {
	await Promise.all([nextDocument(page, where), locator.click()]);
}

/** Presses Enter in the form field `selector` and waits for the answer's document at `where`. */
export async function submitByEnter(page, selector, where) {
	await Promise.all([nextDocument(page, where), page.press(selector, "Enter")]);
}

/** Saves the whole of `page` as the screenshot `name` (a file name in the screenshots folder). */
export async function screenshot(page, name) {
	await page.screenshot({ path: join(SCREENSHOTS, name), fullPage: true });
}

/** Signs `page`'s context in through the sign-in form with `token`; lands on `next` (default: the list). */
export async function signIn(page, token, next = "/") {
	await visit(page, `/-/signin?next=${encodeURIComponent(next)}`);
	await page.fill("#signin-form #token", token);
	// The form's only text field: Enter submits it.
	await submitByEnter(page, "#signin-form #token", (u) => u.pathname === next);
}

/** The path (and query) an `a` or SVG `a` links to, resolved against the page. */
export function linkTarget(href, base) {
	const u = new URL(href, base);
	return u.pathname + u.search;
}

/** The paths the links of #site-nav go to, in order. */
export async function navTargets(page) {
	const hrefs = await page.$$eval("#site-nav a", (as) => as.map((a) => a.getAttribute("href") ?? ""));
	return hrefs.map((href) => new URL(href, page.url()).pathname);
}

/** The link of #site-nav to `path` (its query aside). */
export async function navLink(page, path) {
	const index = (await navTargets(page)).indexOf(path);
	assert.ok(index >= 0, `no #site-nav link to ${path} on ${page.url()}`);
	return page.locator("#site-nav a").nth(index);
}

/** The ids the list on `page` shows, in order, each with the path its link goes to. */
export async function listedRepos(page) {
	return page.$$eval("#repo-list .repo-item a.repo-link", (links) => links.map((a) => ({ id: a.textContent.trim(), href: a.getAttribute("href") })));
}

/** Polls `probe` until `done(value)` holds or `timeoutMs` passes; the last value. */
export async function eventually(probe, done, timeoutMs = 10_000) {
	const deadline = Date.now() + timeoutMs;
	let value = await probe();
	while (!done(value) && Date.now() < deadline) {
		await sleep(100);
		value = await probe();
	}
	return value;
}

/** Each `tr.file` of #file-table: its cells' text, its links, its sha256 and whether it is marked LFS. */
async function fileRows(page) {
	return page.$$eval("#file-table tr.file", (rows) =>
		rows.map((row) => ({
			cells: [...row.querySelectorAll("td, th")].map((c) => c.textContent.trim()),
			text: [...row.querySelectorAll("td, th")].map((c) => c.textContent.trim()).join(" "),
			links: [...row.querySelectorAll("a[href]")].map((a) => a.getAttribute("href")),
			sha256: row.querySelector("code.sha256")?.textContent.trim() ?? null,
			lfs: row.querySelector("span.lfs") !== null,
		})),
	);
}

/** The row of `rows` for the file named `name` (a cell or a link whose text is the name). */
function rowOf(rows, name) {
	return rows.find((r) => r.cells.some((c) => c === name || c.split(/\s+/).includes(name)));
}

/**
 * Whether `rowText` shows `size` bytes: the exact count (thousands separators allowed), or a
 * rounded size in kB/KiB/MB/MiB that is within 5 % of it.
 */
function showsSize(rowText, size) {
	if (rowText.replace(/(\d)[,\u202f\u00a0 ](?=\d{3}\b)/g, "$1").match(new RegExp(`\\b${size}\\b`))) return true;
	const units = { b: 1, bytes: 1, kb: 1000, kib: 1024, mb: 1e6, mib: 1024 ** 2 };
	for (const m of rowText.matchAll(/(\d+(?:[.,]\d+)?)\s*(bytes|B|kB|KB|KiB|MB|MiB)\b/g)) {
		const unit = m[2].toLowerCase();
		for (const base of unit === "kb" || unit === "mb" ? [units[unit], unit === "kb" ? 1024 : 1024 ** 2] : [units[unit]]) {
			if (Math.abs(Number(m[1].replace(",", ".")) * base - size) <= size * 0.05 + 1) return true;
		}
	}
	return false;
}

/** Checks a repo page's `tr.file` rows against `files` (those of the folder shown), each downloaded through its link. */
export async function checkFileRows(page, repo, files, { downloadable = true } = {}) {
	const rows = await fileRows(page);
	assert.equal(rows.length, files.length, `${repo.id}: tr.file rows ${JSON.stringify(rows.map((r) => r.text))}`);
	const resolve = `${repo.type === "dataset" ? "/datasets" : ""}/${repo.id}/resolve/${world.commits[repo.id]}/`;
	for (const file of files) {
		const name = file.path.split("/").at(-1);
		const row = rowOf(rows, name);
		assert.ok(row, `${repo.id}: no row for ${name} among ${JSON.stringify(rows.map((r) => r.text))}`);
		assert.equal(row.sha256, sha256Hex(file.content), `${repo.id}: ${file.path}: code.sha256`);
		assert.ok(showsSize(row.text, file.content.length), `${repo.id}: ${file.path}: no size of ${file.content.length} bytes in ${JSON.stringify(row.text)}`);
		assert.equal(row.lfs, file.path.endsWith(".safetensors") || file.path.endsWith(".gguf"), `${repo.id}: ${file.path}: span.lfs`);
		const downloads = row.links.filter((href) => linkTarget(href, page.url()).includes("/resolve/"));
		if (!downloadable) {
			assert.deepEqual(downloads, [], `${repo.id}: ${file.path}: a download link for a caller who may not download`);
			continue;
		}
		assert.deepEqual(
			downloads.map((href) => linkTarget(href, page.url())),
			[resolve + file.path.split("/").map(encodeURIComponent).join("/")],
			`${repo.id}: ${file.path}: the download link`,
		);
		// Fetched with the page's cookies, as a click would.
		const res = await page.request.get(new URL(downloads[0], page.url()).href);
		assert.equal(res.status(), 200, `${repo.id}: GET ${downloads[0]}`);
		assert.equal(sha256Hex(await res.body()), sha256Hex(file.content), `${repo.id}: the bytes of ${downloads[0]}`);
	}
}

export const repoNamed = (id) => REPOS.find((r) => r.id === id);

// ---------------------------------------------------------------------------------------------
// Lineage
// ---------------------------------------------------------------------------------------------

/** The SVG `a` of the lineage graph whose node label is `id`, or null. */
export async function nodeLink(page, id) {
	const handle = await page.evaluateHandle((id) => {
		for (const a of document.querySelectorAll("#lineage svg a")) {
			if ([...a.querySelectorAll("text")].some((t) => t.textContent.trim() === id)) return a;
		}
		return null;
	}, id);
	return handle.asElement();
}

export const hrefOf = (element) => element.evaluate((a) => a.getAttribute("href") ?? a.getAttributeNS("http://www.w3.org/1999/xlink", "href"));

/**
 * Checks the lineage page `page` shows for `id` against /api/lineage at the page's defaults
 * (depth 3, both directions): every node's label and every edge's relation in the SVG, one
 * #lineage-table row (child, relation, parent) per edge. Returns the SVG's texts and the rows.
 */
export async function checkLineagePage(page, id) {
	assert.equal(new URL(page.url()).pathname, `/-/lineage/${id}`, "the lineage page's URL");
	const graph = await getJson(`${world.url}/api/lineage/models/${id}?depth=3&direction=both`);
	const texts = await page.$$eval("#lineage svg text", (ts) => ts.map((t) => t.textContent.trim()));
	for (const node of graph.nodes) assert.ok(texts.includes(node.id), `${id}: no SVG text ${node.id} among ${JSON.stringify(texts)}`);
	for (const edge of graph.edges) assert.ok(texts.includes(edge.relation), `${id}: no SVG text ${edge.relation} among ${JSON.stringify(texts)}`);
	assert.ok((await page.locator("#lineage svg g.node").count()) >= graph.nodes.length, `${id}: a g.node per model`);
	assert.ok((await page.locator("#lineage svg g.edge").count()) >= graph.edges.length, `${id}: a g.edge per edge`);
	const rows = await page.$$eval("#lineage-table tr", (trs) =>
		trs.filter((tr) => tr.querySelector("td")).map((tr) => [...tr.querySelectorAll("td, th")].map((c) => c.textContent.replace(/\s+/g, " ").trim())),
	);
	// A cell may add a note after the id ("acme/other (not mirrored)"); the id comes first.
	const key = (child, relation, parent) => `${child} -${relation}-> ${parent}`;
	const shown = rows.map((cells) => key(cells[0]?.split(" ")[0], cells[1], cells[2]?.split(" ")[0])).sort();
	assert.deepEqual(shown, graph.edges.map((e) => key(e.child, e.relation, e.parent)).sort(), `${id}: #lineage-table rows`);
	assert.ok(await page.locator("#lineage figcaption").count(), `${id}: figcaption`);
	assert.ok(await page.locator('#lineage-controls select[name="depth"]').count(), `${id}: the depth control`);
	assert.ok(await page.locator('#lineage-controls select[name="direction"]').count(), `${id}: the direction control`);
	return { texts, rows };
}

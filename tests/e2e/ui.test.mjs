// End-to-end test of the web UI in a real browser (Chromium driven by playwright-core): one
// `hubmirror serve` holding a lineage family imported with `hubmirror import` (acme/base, a
// finetune, an adapter, a GGUF quantization of the finetune, and a merge of the finetune with
// acme/other, a model known only from that card), a dataset, a card that tries to run script and
// load a remote image, a private repo, a gated repo and a repo filled by `hubmirror sync` from a
// second hubmirror; people made with the CLI (a user and an admin, each with a named token).
//  - the list and its links to every page, search as you type without a navigation;
//  - a repo page: card, files with sizes, sha256 and download links giving the right bytes, the
//    download snippets, and the lineage pages reached by clicking (drawn nodes, relations, the
//    text table against /api/lineage), a model known only from a card drawn as not mirrored;
//  - a hostile card: no script runs, no remote request, the Content-Security-Policy;
//  - a private repo (404 unless the caller may read it), a gated repo (sign in, ask for access,
//    pending until `hubmirror access grant`, then downloads), POSTs without the page's Origin;
//  - the status, integrity and admin pages; no token secret in any page; a 360 px wide
//    viewport and keyboard access to the lineage graph.
// Every page must load without console errors or uncaught exceptions, with the spec's headers;
// each page's screenshot goes to HUBMIRROR_UI_SCREENSHOTS (default: build/ui-screenshots in the
// source tree).
//
// Run with: HUBMIRROR_BIN=/path/to/hubmirror node --test ui.test.mjs
// The browser is Chromium at /usr/bin/chromium, or CHROMIUM_PATH.
//
// Everything happens on 127.0.0.1 in a fresh temporary directory that is removed afterwards.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, test } from "node:test";
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

const BASE = "acme/base";
const FINETUNE = "acme/base-ft";
const ADAPTER = "acme/base-lora";
const QUANTIZED = "acme/base-gguf";
const MERGE = "acme/base-merge";
const UNMIRRORED = "acme/other";
const FAMILY = [BASE, FINETUNE, ADAPTER, QUANTIZED, MERGE];
const RELATIONS = ["finetune", "adapter", "quantized", "merge"];
const INJECTION = "acme/card-injection";
const PRIVATE = "secret/hidden";
const GATED = "acme/gated";
const DATASET = "acme/corpus";
const SYNCED = "upstream-lab/synced-model";
const MODELS = [...FAMILY, INJECTION, GATED, SYNCED];

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
const world = {
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
async function cli(args) {
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

useWorkRoot("hubmirror-e2e-ui-", {
	timeout: 120_000,
	async setup(root, t) {
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
		world.server = await serveHubmirror(BIN, world.data, { keepStderr: 1_000_000 });
		world.url = world.server.url;
		world.browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
	},
	async teardown() {
		await world.browser?.close();
		await world.server?.stop();
		await world.upstream?.stop();
	},
});

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
async function openPage(context) {
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

function assertCleanPages(seen, what, options) {
	assert.deepEqual(pageProblems(seen, options), [], `${what}: console errors, exceptions or headers`);
}

/** Runs `fn(context)` in a fresh browser context (its own cookies) with `options`, then closes it. */
async function withContext(fn, options = {}) {
	const context = await world.browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
	try {
		return await fn(context);
	} finally {
		await context.close();
	}
}

/** Goes to `path` of the server; the main answer's status must be `status`. */
async function visit(page, path, status = 200) {
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
async function clickThrough(page, locator, where) {
	await Promise.all([nextDocument(page, where), locator.click()]);
}

/** Presses Enter in the form field `selector` and waits for the answer's document at `where`. */
async function submitByEnter(page, selector, where) {
	await Promise.all([nextDocument(page, where), page.press(selector, "Enter")]);
}

async function screenshot(page, name) {
	await page.screenshot({ path: join(SCREENSHOTS, name), fullPage: true });
}

/** Signs `page`'s context in through the sign-in form with `token`; lands on `next` (default: the list). */
async function signIn(page, token, next = "/") {
	await visit(page, `/-/signin?next=${encodeURIComponent(next)}`);
	await page.fill("#signin-form #token", token);
	// The form's only text field: Enter submits it.
	await submitByEnter(page, "#signin-form #token", (u) => u.pathname === next);
}

/** The path (and query) an `a` or SVG `a` links to, resolved against the page. */
function linkTarget(href, base) {
	const u = new URL(href, base);
	return u.pathname + u.search;
}

/** The paths the links of #site-nav go to, in order. */
async function navTargets(page) {
	const hrefs = await page.$$eval("#site-nav a", (as) => as.map((a) => a.getAttribute("href") ?? ""));
	return hrefs.map((href) => new URL(href, page.url()).pathname);
}

/** The link of #site-nav to `path` (its query aside). */
async function navLink(page, path) {
	const index = (await navTargets(page)).indexOf(path);
	assert.ok(index >= 0, `no #site-nav link to ${path} on ${page.url()}`);
	return page.locator("#site-nav a").nth(index);
}

/** The ids the list on `page` shows, in order, each with the path its link goes to. */
async function listedRepos(page) {
	return page.$$eval("#repo-list .repo-item a.repo-link", (links) => links.map((a) => ({ id: a.textContent.trim(), href: a.getAttribute("href") })));
}

/** Polls `probe` until `done(value)` holds or `timeoutMs` passes; the last value. */
async function eventually(probe, done, timeoutMs = 10_000) {
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
async function checkFileRows(page, repo, files, { downloadable = true } = {}) {
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

const repoNamed = (id) => REPOS.find((r) => r.id === id);

// ---------------------------------------------------------------------------------------------
// Lineage
// ---------------------------------------------------------------------------------------------

/** The SVG `a` of the lineage graph whose node label is `id`, or null. */
async function nodeLink(page, id) {
	const handle = await page.evaluateHandle((id) => {
		for (const a of document.querySelectorAll("#lineage svg a")) {
			if ([...a.querySelectorAll("text")].some((t) => t.textContent.trim() === id)) return a;
		}
		return null;
	}, id);
	return handle.asElement();
}

const hrefOf = (element) => element.evaluate((a) => a.getAttribute("href") ?? a.getAttributeNS("http://www.w3.org/1999/xlink", "href"));

/**
 * Checks the lineage page `page` shows for `id` against /api/lineage at the page's defaults
 * (depth 3, both directions): every node's label and every edge's relation in the SVG, one
 * #lineage-table row (child, relation, parent) per edge. Returns the SVG's texts and the rows.
 */
async function checkLineagePage(page, id) {
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

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

describe("the web UI in a browser", () => {
	test("the list: every repo but the private one, every page linked from it", { timeout: 60_000 }, async () => {
		await withContext(async (context) => {
			const { page, seen } = await openPage(context);
			await visit(page, "/");
			const listed = await listedRepos(page);
			assert.deepEqual(listed.map((r) => r.id).sort(), [...MODELS].sort(), "the models listed");
			for (const { id, href } of listed) assert.equal(linkTarget(href, page.url()), `/-/models/${id}`, `${id}: its link`);
			assert.match(await page.locator("#results #repo-count").textContent(), new RegExp(`\\b${MODELS.length} repos\\b`), "#repo-count");
			assert.ok(!(await page.content()).includes(PRIVATE), `${PRIVATE} is named on the list`);
			for (const field of ['input#search[name="q"]', 'select[name="task"]', 'select[name="library"]', 'input[name="base_model"]', 'select[name="gated"]', 'select[name="source"]', 'select[name="sort"]']) {
				assert.equal(await page.locator(`form#repo-filter ${field}`).count(), 1, `#repo-filter has ${field}`);
			}
			await screenshot(page, "list.png");

			// The navigation, followed link by link from the list.
			const navPaths = await navTargets(page);
			for (const path of ["/", "/-/datasets", "/-/status", "/-/integrity", "/-/signin"]) assert.ok(navPaths.includes(path), `#site-nav links to ${path}: ${JSON.stringify(navPaths)}`);
			assert.ok(!navPaths.includes("/-/admin"), "no Admin link for an anonymous caller");
			for (const [path, landmark] of [
				["/-/datasets", "#repo-list"],
				["/-/status", "#status-table"],
				["/-/integrity", "#manifest-table"],
				["/-/signin", "#signin-form"],
				["/", "#repo-list"],
			]) {
				await clickThrough(page, await navLink(page, path), (u) => u.pathname === path);
				assert.equal(seen.documents.at(-1)?.status, 200, `${path}: status`);
				assert.equal(await page.locator(landmark).count(), 1, `${path}: ${landmark}`);
				if (path === "/-/signin") await screenshot(page, "signin.png");
			}

			// The datasets list, and a dataset's page reached from it.
			await clickThrough(page, await navLink(page, "/-/datasets"), (u) => u.pathname === "/-/datasets");
			const datasets = await listedRepos(page);
			assert.deepEqual(datasets.map((r) => r.id), [DATASET], "the datasets listed");
			assert.equal(linkTarget(datasets[0].href, page.url()), `/-/datasets/${DATASET}`);
			await clickThrough(page, page.locator("#repo-list a.repo-link").first(), (u) => u.pathname === `/-/datasets/${DATASET}`);
			assert.match(await page.locator("#repo-title").textContent(), new RegExp(DATASET), "#repo-title");
			assert.equal(await page.locator("#lineage-link").count(), 0, "no lineage link on a dataset's page");
			await checkFileRows(page, repoNamed(DATASET), repoNamed(DATASET).files);
			assertCleanPages(seen, "list, navigation, datasets");
		});
	});

	test("typing in the search box narrows the list without a navigation", { timeout: 60_000 }, async () => {
		await withContext(async (context) => {
			const { page, seen } = await openPage(context);
			await visit(page, "/");
			const before = (await listedRepos(page)).length;
			assert.equal(before, MODELS.length);
			// Lost on any navigation: still there afterwards means the page was never reloaded.
			await page.evaluate(() => (window.__sameDocument = true));
			await page.locator("#search").pressSequentially("lora", { delay: 40 });
			const after = await eventually(
				() => listedRepos(page),
				(repos) => repos.length === 1,
			);
			assert.deepEqual(after.map((r) => r.id), [ADAPTER], "the list after typing");
			assert.equal(await page.evaluate(() => window.__sameDocument), true, "the page was reloaded");
			const query = await eventually(
				() => new URL(page.url()).searchParams.get("q"),
				(q) => q === "lora",
			);
			assert.equal(query, "lora", "the URL's q after typing");
			assert.equal(seen.documents.length, 1, "a document was loaded while typing");
			assertCleanPages(seen, "search as you type");
		});
	});

	test("a repo page: card, files, downloads, snippets, and its lineage pages by clicking", { timeout: 90_000 }, async () => {
		await withContext(async (context) => {
			const { page, seen } = await openPage(context);
			const repo = repoNamed(FINETUNE);
			await visit(page, "/");
			await clickThrough(page, page.locator("#repo-list a.repo-link", { hasText: new RegExp(`^\\s*${FINETUNE}\\s*$`) }), (u) => u.pathname === `/-/models/${FINETUNE}`);
			assert.ok(page.url().includes(FINETUNE));
			assert.match(await page.locator("#repo-title").textContent(), new RegExp(FINETUNE), "#repo-title");
			assert.match(await page.locator("#card .markdown").innerText(), /A finetune of the base model\./, "the card's text");
			assert.equal(await page.locator("#card .markdown h1", { hasText: "Base FT" }).count(), 1, "the card's heading, rendered");
			await checkFileRows(page, repo, repo.files.filter((f) => !f.path.includes("/")));
			assert.ok(await page.locator("#refs").count(), "#refs");
			assert.ok(await page.locator("#history").count(), "#history");
			for (const snippet of ["#snippet-python", "#snippet-curl"]) {
				const code = await page.locator(`#download ${snippet}`).textContent();
				assert.ok(code.includes(world.url), `${snippet} names the server: ${code}`);
				assert.ok(code.includes(FINETUNE), `${snippet} names the repo: ${code}`);
			}
			await screenshot(page, "repo.png");

			// The folder, opened from its row.
			const folder = page.locator("#file-table tr.folder", { hasText: "tokenizer" }).locator("a").first();
			await clickThrough(page, folder, (u) => u.pathname === `/-/models/${FINETUNE}` && u.searchParams.get("path") === "tokenizer");
			await checkFileRows(page, repo, repo.files.filter((f) => f.path.startsWith("tokenizer/")));
			await page.goBack();

			// The finetune's lineage: its base above, the quantization and the merge below.
			await clickThrough(page, page.locator("#lineage-link"), (u) => u.pathname === `/-/lineage/${FINETUNE}`);
			const near = await checkLineagePage(page, FINETUNE);
			for (const id of [BASE, FINETUNE, QUANTIZED, MERGE]) assert.ok(near.texts.includes(id), `${FINETUNE}'s lineage draws ${id}`);
			for (const relation of ["finetune", "quantized", "merge"]) assert.ok(near.texts.includes(relation), `${FINETUNE}'s lineage draws ${relation}`);

			// The whole family from the foundation: its node links to its repo page, whose lineage link draws all of it.
			const baseNode = await nodeLink(page, BASE);
			assert.ok(baseNode, `no SVG a for ${BASE}`);
			assert.equal(linkTarget(await hrefOf(baseNode), page.url()), `/-/models/${BASE}`, `${BASE}'s node link`);
			await clickThrough(page, baseNode, (u) => u.pathname === `/-/models/${BASE}`);
			await clickThrough(page, page.locator("#lineage-link"), (u) => u.pathname === `/-/lineage/${BASE}`);
			const family = await checkLineagePage(page, BASE);
			for (const id of FAMILY) assert.ok(family.texts.includes(id), `${BASE}'s lineage draws ${id}: ${JSON.stringify(family.texts)}`);
			for (const relation of RELATIONS) assert.ok(family.texts.includes(relation), `${BASE}'s lineage draws ${relation}: ${JSON.stringify(family.texts)}`);
			await screenshot(page, "lineage.png");

			// The merge's parents: acme/other, known only from its card, is drawn as not mirrored.
			await clickThrough(page, await nodeLink(page, MERGE), (u) => u.pathname === `/-/models/${MERGE}`);
			await clickThrough(page, page.locator("#lineage-link"), (u) => u.pathname === `/-/lineage/${MERGE}`);
			const merge = await checkLineagePage(page, MERGE);
			assert.ok(merge.texts.includes(UNMIRRORED), `${MERGE}'s lineage draws ${UNMIRRORED}`);
			const otherRow = merge.rows.find((cells) => cells.some((c) => c.startsWith(UNMIRRORED)));
			assert.ok(
				merge.texts.some((t) => /not mirrored/i.test(t)) || otherRow?.some((c) => /not mirrored/i.test(c)),
				`${UNMIRRORED} is not marked "not mirrored": SVG ${JSON.stringify(merge.texts)}, row ${JSON.stringify(otherRow)}`,
			);
			const otherNode = await nodeLink(page, UNMIRRORED);
			assert.ok(otherNode, `no SVG a for ${UNMIRRORED}`);
			assert.equal(linkTarget(await hrefOf(otherNode), page.url()), `/-/lineage/${UNMIRRORED}`, `${UNMIRRORED}'s node links to its lineage`);
			await clickThrough(page, otherNode, (u) => u.pathname === `/-/lineage/${UNMIRRORED}`);
			await checkLineagePage(page, UNMIRRORED);
			assertCleanPages(seen, "repo and lineage pages");
		});
	});

	test("a hostile card runs no script and loads nothing from elsewhere", { timeout: 60_000 }, async () => {
		await withContext(async (context) => {
			const { page, seen } = await openPage(context);
			const res = await visit(page, `/-/models/${INJECTION}`);
			await page.waitForLoadState("load");
			// Time for an inline handler or a late image error to fire, if any had been let through.
			await sleep(500);
			assert.equal(await page.evaluate(() => typeof window.__pwned), "undefined", "window.__pwned was set");
			assert.match(await page.locator("#card").innerText(), /Plain text survives\./, "the card is rendered");
			assert.equal(await page.locator("#card script").count(), 0, "a script element in #card");
			const handlers = await page.$$eval("#card *", (els) => els.flatMap((el) => [...el.attributes].filter((a) => a.name.toLowerCase().startsWith("on")).map((a) => `${el.tagName} ${a.name}`)));
			assert.deepEqual(handlers, [], "event handler attributes in #card");
			const hrefs = await page.$$eval("a", (as) => as.map((a) => a.getAttribute("href") ?? ""));
			assert.deepEqual(hrefs.filter((h) => /^\s*javascript:/i.test(h)), [], "javascript: links");
			assert.equal(await page.locator('#card img[src*="example.invalid"]').count(), 0, "the remote image is shown as an image");
			const remote = page.locator('#card a[href="http://example.invalid/a.png"]');
			assert.equal(await remote.count(), 1, "the remote image is shown as a link");
			const rel = ((await remote.getAttribute("rel")) ?? "").split(/\s+/);
			for (const word of ["noopener", "noreferrer", "nofollow"]) assert.ok(rel.includes(word), `the remote link's rel lacks ${word}`);
			assert.deepEqual(seen.requests.filter((u) => u.includes("example.invalid")), [], "requests to example.invalid");
			assert.ok(res.headers()["content-security-policy"], "the page has a Content-Security-Policy");
			await screenshot(page, "card-injection.png");
			assertCleanPages(seen, "the hostile card");
		});
	});

	test("a private repo is not found, except for those who may read it", { timeout: 60_000 }, async () => {
		for (const who of [undefined, "reader"]) {
			await withContext(async (context) => {
				const { page, seen } = await openPage(context);
				if (who) await signIn(page, world.tokens[who]);
				await visit(page, `/-/models/${PRIVATE}`, 404);
				assert.ok(!(await page.locator("#file-table").count()), `${who ?? "anonymous"}: a file table on the 404 page`);
				// As a repo that does not exist at all.
				await visit(page, "/-/models/secret/missing", 404);
				if (who) {
					await visit(page, "/");
					assert.ok(!(await listedRepos(page)).some((r) => r.id === PRIVATE), `${who}: ${PRIVATE} listed`);
				}
				assertCleanPages(seen, `${who ?? "anonymous"} on the private repo`, { statuses: [404] });
			});
		}
		await withContext(async (context) => {
			const { page, seen } = await openPage(context);
			await signIn(page, world.tokens.root);
			await visit(page, "/");
			assert.ok((await listedRepos(page)).some((r) => r.id === PRIVATE), `${PRIVATE} is listed for the admin`);
			await clickThrough(page, page.locator("#repo-list a.repo-link", { hasText: PRIVATE }), (u) => u.pathname === `/-/models/${PRIVATE}`);
			assert.match(await page.locator("#repo-title").textContent(), new RegExp(PRIVATE));
			await checkFileRows(page, repoNamed(PRIVATE), repoNamed(PRIVATE).files);
			assertCleanPages(seen, "the admin on the private repo");
		});
	});

	test("a gated repo: sign in, ask for access, pending until granted, then downloads", { timeout: 90_000 }, async () => {
		const repo = repoNamed(GATED);
		await withContext(async (context) => {
			const { page, seen } = await openPage(context);
			await visit(page, `/-/models/${GATED}`);
			await checkFileRows(page, repo, repo.files, { downloadable: false });
			const toSignIn = page.locator("#access a#signin-to-request");
			assert.equal(await toSignIn.count(), 1, "#signin-to-request");
			const target = new URL(await toSignIn.getAttribute("href"), page.url());
			assert.equal(target.pathname, "/-/signin");
			assert.equal(target.searchParams.get("next"), `/-/models/${GATED}`, "the sign-in link's next");

			// A wrong token: 401 with an error, the token not echoed.
			await clickThrough(page, toSignIn, (u) => u.pathname === "/-/signin");
			const wrong = `hf_${randomBytes(17).toString("hex")}`;
			await page.fill("#signin-form #token", wrong);
			await submitByEnter(page, "#signin-form #token", (u) => u.pathname === "/-/signin");
			assert.equal(seen.documents.at(-1)?.status, 401, "a wrong token's sign-in");
			assert.equal(await page.locator("p.error").count(), 1, "the wrong token's error");
			assert.ok(!(await page.content()).includes(wrong), "the wrong token is echoed");
			assert.equal((await context.cookies()).filter((c) => c.name === "hubmirror_token").length, 0, "a cookie for a wrong token");

			// The reader's token, through the form the repo page linked to: back on the repo page.
			await visit(page, target.pathname + target.search);
			assert.equal(await page.locator('#signin-form input[type="hidden"][name="next"]').inputValue(), `/-/models/${GATED}`, "the form's next");
			await page.fill("#signin-form #token", world.tokens.reader);
			await submitByEnter(page, "#signin-form #token", (u) => u.pathname === `/-/models/${GATED}`);
			const cookie = (await context.cookies()).find((c) => c.name === "hubmirror_token");
			assert.ok(cookie, "no hubmirror_token cookie after signing in");
			assert.equal(cookie.httpOnly, true, "the cookie is HttpOnly");
			assert.equal(cookie.sameSite, "Strict", "the cookie is SameSite=Strict");
			assert.ok(!(await page.evaluate(() => document.cookie)).includes("hubmirror_token"), "the cookie is readable by script");
			assert.match(await page.locator("#site-nav").innerText(), /\breader\b/, "the user's name in #site-nav");
			assert.equal(await page.locator('#site-nav form#signout-form[method="post"][action="/-/signout"]').count(), 1, "#signout-form");
			await checkFileRows(page, repo, repo.files, { downloadable: false });
			const form = page.locator(`#access form#request-access-form[method="post"][action="/-/access/models/${GATED}"]`);
			assert.equal(await form.count(), 1, "#request-access-form");

			// The same POST without the page's Origin (a cross-site form, a script elsewhere): refused.
			for (const origin of [undefined, "http://evil.invalid"]) {
				const res = await fetch(`${world.url}/-/access/models/${GATED}`, {
					method: "POST",
					redirect: "manual",
					headers: { cookie: `hubmirror_token=${world.tokens.reader}`, "content-type": "application/x-www-form-urlencoded", ...(origin ? { origin } : {}) },
					body: "",
				});
				assert.equal(res.status, 403, `POST /-/access without the page's Origin (${origin ?? "none"})`);
			}

			await clickThrough(page, form.locator("#request-access"), (u) => u.pathname === `/-/models/${GATED}`);
			assert.match(await page.locator("#access #access-state").innerText(), /pending/i, "#access-state after asking");
			await checkFileRows(page, repo, repo.files, { downloadable: false });
			await screenshot(page, "gated.png");

			await cli(["access", "grant", GATED, "--user", "reader"]);
			await page.reload();
			await checkFileRows(page, repo, repo.files);
			assertCleanPages(seen, "the gated repo", { statuses: [401] });
		});
	});

	test("the status and integrity pages", { timeout: 60_000 }, async () => {
		await withContext(async (context) => {
			const { page, seen } = await openPage(context);
			await visit(page, "/-/status");
			const rows = await page.$$eval("#status-table tr", (trs) =>
				trs.map((tr) => ({ text: [...tr.querySelectorAll("td, th")].map((c) => c.textContent.replace(/\s+/g, " ").trim()).join(" "), links: [...tr.querySelectorAll("a[href]")].map((a) => a.getAttribute("href")) })),
			);
			const synced = rows.find((r) => r.links.some((href) => linkTarget(href, page.url()) === `/-/models/${SYNCED}`));
			assert.ok(synced, `no #status-table row links to ${SYNCED}: ${JSON.stringify(rows)}`);
			assert.match(synced.text, /\bmain\b/, "the row's revision");
			assert.match(synced.text, /\bsync\b/, "the row's source");
			assert.ok(synced.text.includes(world.upstream.url.replace(/^https?:\/\//, "")), `the row's upstream: ${synced.text}`);
			assert.ok(synced.text.includes(world.commits[SYNCED].slice(0, 7)), `the row's commit: ${synced.text}`);
			assert.ok(!(await page.content()).includes(PRIVATE), `${PRIVATE} is named on the status page`);
			await screenshot(page, "status.png");
			const sections = { "#jobs": await page.locator("#jobs").count(), "#fills": await page.locator("#fills").count() };

			await visit(page, "/-/integrity");
			const keyLink = page.locator('#signing-key a[href="/api/integrity/key"]');
			assert.equal(await keyLink.count(), 1, "#signing-key links to /api/integrity/key");
			assert.equal((await page.request.get(`${world.url}/api/integrity/key`)).status(), 200, "GET /api/integrity/key");
			assert.ok(await page.locator("#blob-states").count(), "#blob-states");
			assert.ok(await page.locator("#verify-jobs").count(), "#verify-jobs");
			assert.match(await page.locator("#check-howto").textContent(), /hubmirror check/, "#check-howto");
			const manifestPath = `/api/integrity/models/${FINETUNE}/${world.commits[FINETUNE]}`;
			const manifests = await page.$$eval("#manifest-table a[href]", (as) => as.map((a) => a.getAttribute("href")));
			const link = manifests.find((href) => linkTarget(href, page.url()) === manifestPath);
			assert.ok(link, `no #manifest-table link to ${manifestPath} among ${JSON.stringify(manifests)}`);
			const res = await page.request.get(new URL(link, page.url()).href);
			assert.equal(res.status(), 200, `GET ${link}`);
			const signed = await res.json();
			assert.equal(typeof signed.signature, "string", "the manifest's signature");
			assert.ok(signed.signature.length > 0, "the manifest's signature");
			assert.deepEqual([signed.manifest?.repo, signed.manifest?.commit], [FINETUNE, world.commits[FINETUNE]], "the manifest's repo and commit");
			assert.ok(!(await page.content()).includes(PRIVATE), `${PRIVATE} is named on the integrity page`);
			await screenshot(page, "integrity.png");
			assertCleanPages(seen, "status and integrity");
			assert.deepEqual(sections, { "#jobs": 1, "#fills": 1 }, "the status page's sections");
		});
	});

	test("the admin page: a sign-in link, 403, then users and tokens for an admin; signing out", { timeout: 60_000 }, async () => {
		await withContext(async (context) => {
			const { page, seen } = await openPage(context);
			const res = await page.goto(`${world.url}/-/admin`);
			assert.ok(res.status() === 401 || res.status() === 403, `anonymous GET /-/admin: ${res.status()}`);
			const signInLinks = await page.$$eval('a[href^="/-/signin"]', (as) => as.filter((a) => !a.closest("#site-nav")).length);
			assert.ok(signInLinks > 0, "no sign-in link on the admin page for an anonymous caller");
			assert.equal(await page.locator("#users, #tokens").count(), 0, "anonymous: #users or #tokens");
			await signIn(page, world.tokens.reader);
			await visit(page, "/-/admin", 403);
			assert.equal(await page.locator("#users, #tokens").count(), 0, "reader: #users or #tokens");
			assert.ok(!(await navTargets(page)).includes("/-/admin"), "an Admin link for a user who is no admin");
			assertCleanPages(seen, "the admin page refused", { statuses: [401, 403] });
		});
		await withContext(async (context) => {
			const { page, seen } = await openPage(context);
			await signIn(page, world.tokens.root);
			await clickThrough(page, await navLink(page, "/-/admin"), (u) => u.pathname === "/-/admin");
			assert.equal(seen.documents.at(-1)?.status, 200, "the admin's GET /-/admin");
			const users = await page.locator("#users").innerText();
			for (const user of ["reader", "root"]) assert.match(users, new RegExp(`\\b${user}\\b`), `#users lists ${user}`);
			const tokens = await page.locator("#tokens").innerText();
			for (const name of Object.values(world.tokenNames)) assert.ok(tokens.includes(name), `#tokens lists ${name}: ${tokens}`);
			assert.ok(await page.locator("#grants").count(), "#grants");
			assert.ok(await page.locator("#audit").count(), "#audit");
			await screenshot(page, "admin.png");

			await clickThrough(page, page.locator("#signout-form button, #signout-form [type=submit]").first(), (u) => u.pathname === "/");
			assert.equal((await context.cookies()).filter((c) => c.name === "hubmirror_token" && c.value).length, 0, "the cookie after signing out");
			assert.ok((await navTargets(page)).includes("/-/signin"), "Sign in after signing out");
			const refused = await page.goto(`${world.url}/-/admin`);
			assert.ok(refused.status() === 401 || refused.status() === 403, `GET /-/admin after signing out: ${refused.status()}`);
			assert.equal(await page.locator("#users, #tokens").count(), 0, "#users or #tokens after signing out");
			assertCleanPages(seen, "the admin page", { statuses: [401, 403] });
		});
	});

	test("a 360 px wide screen: no sideways scrolling; the lineage graph by keyboard", { timeout: 60_000 }, async () => {
		await withContext(
			async (context) => {
				const { page, seen } = await openPage(context);
				for (const path of [`/-/models/${FINETUNE}`, "/"]) {
					await visit(page, path);
					const width = await page.evaluate(() => document.documentElement.scrollWidth);
					assert.ok(width <= 362, `${path} at 360 px: the document is ${width} px wide`);
				}
				await visit(page, `/-/lineage/${BASE}`);
				let focused = null;
				for (let i = 0; i < 80 && !focused; i++) {
					await page.keyboard.press("Tab");
					focused = await page.evaluate(() => {
						const el = document.activeElement;
						return el && el.tagName.toLowerCase() === "a" && el.closest("#lineage svg, #lineage-table") ? el.textContent.replace(/\s+/g, " ").trim() : null;
					});
				}
				assert.ok(focused, "Tab never reaches a link of the lineage graph or its table");
				assertCleanPages(seen, "the narrow screen");
			},
			{ viewport: { width: 360, height: 740 } },
		);
	});

	test("no page shows a token secret", { timeout: 60_000 }, async () => {
		const bodies = (await Promise.all(world.bodies)).filter((b) => b.body);
		assert.ok(bodies.length > 20, `only ${bodies.length} pages were kept`);
		// And every page as the admin sees it, signed in by the cookie the sign-in form sets.
		for (const path of ["/", "/-/datasets", "/-/status", "/-/integrity", "/-/admin", "/-/signin", `/-/models/${FINETUNE}`, `/-/models/${GATED}`, `/-/models/${PRIVATE}`, `/-/lineage/${BASE}`]) {
			const res = await fetch(world.url + path, { headers: { cookie: `hubmirror_token=${world.tokens.root}` } });
			bodies.push({ url: path, body: await res.text() });
		}
		for (const [who, secret] of Object.entries(world.tokens)) {
			const leaks = bodies.filter((b) => b.body.includes(secret)).map((b) => b.url);
			assert.deepEqual(leaks, [], `${who}'s token secret is in these pages`);
		}
	});
});

// Offline checks of the HubSpot developer project, with HubSpot's own project parser
// (@hubspot/project-parsing-lib, which `hs project upload` and `hs project validate` run first):
// hsproject.json; every *-hsmeta.json found in a component folder and read as a component with a
// valid, unique uid; each profile's variables filling every ${...}; the card entrypoints present.
// What it cannot do offline: `hs project validate` checks the components against HubSpot's
// schemas, which it downloads with an account's credentials.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseProjectConfig, getProjectMetadata, isKnownPlatformVersion } from '@hubspot/project-parsing-lib/projects';
import { translate } from '@hubspot/project-parsing-lib/translate';
import { getAllHsProfiles } from '@hubspot/project-parsing-lib/profiles';
import { validateUid } from '@hubspot/project-parsing-lib/uid';

const projectDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const problems = [];

const config = parseProjectConfig(projectDir);
if (!isKnownPlatformVersion(config.platformVersion)) {
  problems.push(`hsproject.json: platformVersion ${config.platformVersion} is not one the parser knows`);
}
const srcDir = path.join(projectDir, config.srcDir);

// Every hsmeta file must sit where the platform looks for its component type.
const meta = await getProjectMetadata(srcDir);
const placed = new Set(meta.hsMetaFiles.map((f) => path.resolve(srcDir, f)));
const walk = (dir) =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.name === 'node_modules' ? [] : e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)],
  );
for (const file of walk(srcDir).filter((f) => f.endsWith('-hsmeta.json'))) {
  if (!placed.has(path.resolve(file))) {
    problems.push(`${path.relative(projectDir, file)}: not in a component folder, HubSpot would skip it`);
  }
  const content = JSON.parse(fs.readFileSync(file, 'utf8'));
  const extra = Object.keys(content).filter((k) => !['uid', 'type', 'config', 'dependencies', 'permissions'].includes(k));
  if (extra.length) {
    problems.push(`${path.relative(projectDir, file)}: unexpected top-level fields ${extra.join(', ')}`);
  }
  const uidProblem = validateUid(content.uid);
  if (uidProblem) {
    problems.push(`${path.relative(projectDir, file)}: ${uidProblem}`);
  }
  if (content.type === 'card') {
    const entry = path.join(srcDir, content.config?.entrypoint ?? '');
    if (!content.config?.entrypoint || !fs.existsSync(entry)) {
      problems.push(`${path.relative(projectDir, file)}: entrypoint ${content.config?.entrypoint} does not exist`);
    }
  }
}
for (const [type, m] of Object.entries(meta.components)) {
  if (m.maxCount > 0 && m.count > m.maxCount) {
    problems.push(`${m.count} ${type} components, at most ${m.maxCount}`);
  }
}

// Each profile must give every variable the files use; no ${...} may be left.
const profiles = await getAllHsProfiles(srcDir);
if (profiles.length === 0) {
  problems.push('no hsprofile.<name>.json in src: the files use ${PUBLIC_BASE_URL}');
}
for (const profile of profiles) {
  try {
    const { intermediateRepresentation: ir } = await translate(
      { projectSourceDir: srcDir, platformVersion: config.platformVersion },
      { skipValidation: true, profile },
    );
    const nodes = Object.values(ir.intermediateNodesIndexedByUid);
    for (const node of nodes) {
      const left = JSON.stringify(node.config).match(/\$\{[^}]*\}/g);
      if (left) {
        problems.push(`profile ${profile}: ${node.metaFilePath} keeps ${left.join(', ')}`);
      }
    }
    const types = nodes.map((n) => n.componentType).sort();
    console.log(`profile ${profile}: ${nodes.length} components (${types.join(', ')})`);
  } catch (e) {
    problems.push(`profile ${profile}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

if (problems.length) {
  console.error('hubspot-project check failed:\n  ' + problems.join('\n  '));
  process.exit(1);
}
console.log(`hubspot-project ${config.name} (platform ${config.platformVersion}): offline checks passed`);

// Import rules of src/, checked in CI by `npm run check:imports` (docs/architecture.md explains them):
// no import cycle between files or between folders, type-only imports included (a type-only cycle still ties
// two modules into one unit that cannot be read, tested or moved apart), and no folder importing a higher layer.

// The layers, lowest first: a folder may import its own layer and the ones below it, never one above.
const layers = [
  ['common', 'internal'],
  ['config', 'metrics', 'health', 'breaker', 'balancer', 'inbound'],
  ['registry'],
  ['http'],
  ['admin'],
  ['lifecycle'],
  ['sidecar'],
  ['cli', 'testing', 'extend', 'eureka-js-client', 'nest'],
];

const layerRules = layers.flatMap((folders, i) => {
  const higher = layers.slice(i + 1).flat();
  if (higher.length === 0) return [];
  return [
    {
      name: `layer-${folders.join('-')}`,
      severity: 'error',
      comment: `src/{${folders.join(',')}} may not import a higher layer (${higher.join(', ')}).`,
      from: { path: `^src/(${folders.join('|')})/` },
      to: { path: `^src/(${higher.join('|')})/` },
    },
  ];
});

// Subsystems tell the rest of the library what happened through typed events; `metrics` subscribes to them and
// turns them into the built-in metric families. A folder listed here emits and never reports to metrics itself,
// so it imports nothing of `src/metrics`, type-only imports included.
const metricsFree = ['http', 'breaker'];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import cycle between files, type-only imports included.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-folder-cycle',
      severity: 'error',
      comment: 'An import cycle between folders: two subsystems that cannot be understood apart.',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
    ...layerRules,
    {
      name: 'events-not-metrics',
      severity: 'error',
      comment: `src/{${metricsFree.join(',')}} emit typed events that src/metrics subscribes to; they may not import src/metrics (docs/architecture.md).`,
      from: { path: `^src/(${metricsFree.join('|')})/` },
      to: { path: '^src/metrics/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/admin/ui/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'types', 'default'] },
  },
};

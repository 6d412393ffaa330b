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
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/admin/ui/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'types', 'default'] },
  },
};

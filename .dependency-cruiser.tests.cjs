// Import rules of test/, checked in CI by `npm run check:imports` (CONTRIBUTING.md explains them).
//
// A test of behaviour drives the library as its users do, so it imports only the package's entry points
// (`karyon-ts`, `karyon-ts/testing`, `karyon-ts/extend`, ..., which vitest and tsconfig map to the files below, or
// those files by path in what runs under tsx): a refactor inside src/ then does not rewrite it. A test whose
// subject is an internal module (a codec, a resolver, a queue) may import that module, and only the modules
// `internalImports` names for it, with the reason. An entry there that the file no longer needs fails too, so the
// list says exactly which tests depend on internals.

/** The files behind the `exports` of package.json. */
const entryPoints = '^src/(index|testing/index|extend/index|sidecar/index|eureka-js-client/index|nest/index)\\.ts$';

// What a test of behaviour needs that no entry point exports.
const adminServer = {
  why: 'builds a standalone AdminServer: the class is public only as a type, its option resolver is internal',
  modules: ['admin/AdminServer', 'admin/AdminOptions'],
};
const defaultAddress = {
  why: "expects the service's default address, computed by the helper the service uses",
  modules: ['internal/net'],
};
const rawRegistrations = {
  why: 'sends raw Eureka registrations, encoded by the wire codec',
  modules: ['registry/eureka/wire'],
};
const cliInProcess = {
  why: 'runs the karyon command in-process through runCli(), the function behind the bin',
  modules: ['cli/runCli'],
};

/** Test file (from the repository root) -> what it may import besides the entry points, and why. */
const internalImports = {
  // Tests of behaviour that need one internal piece.
  'test/integration/admin-defaults.test.ts': [defaultAddress],
  'test/integration/admin-registry.test.ts': [adminServer],
  'test/integration/admin-roles.test.ts': [adminServer, defaultAddress],
  'test/integration/admin.test.ts': [defaultAddress],
  'test/integration/breaker-admin.test.ts': [adminServer],
  'test/integration/cli.test.ts': [cliInProcess, { why: "runCli's input and output", modules: ['cli/CliCommand'] }, rawRegistrations],
  'test/integration/client-malformed.test.ts': [
    { why: "the sidecar's egress proxy: the class is public only as a type", modules: ['sidecar/EgressProxy'] },
  ],
  'test/integration/client.test.ts': [adminServer],
  'test/integration/config-admin.test.ts': [adminServer],
  'test/integration/eureka-client-devserver.test.ts': [
    { why: "the instances' wire form (EurekaInstance.toJSON)", modules: ['registry/eureka/EurekaInstance'] },
  ],
  'test/integration/eureka-js-client.test.ts': [rawRegistrations],
  'test/integration/hystrix-stream.test.ts': [adminServer],
  'test/integration/metrics-prometheus.test.ts': [
    adminServer,
    { why: 'feeds the client metrics the status classes the client computes', modules: ['metrics/builtin'] },
  ],
  'test/integration/nest-module.test.ts': [
    { why: 'the injected client is a ServiceClient: the class is public only as a type', modules: ['http/ServiceClient'] },
  ],
  'test/integration/opossum-adopt.test.ts': [
    { why: 'the reporter that turns adopted breakers into metrics', modules: ['metrics/BreakerMetricsReporter'] },
  ],
  'test/integration/registry-server.test.ts': [
    rawRegistrations,
    { why: 'compares the served JSON with each lease as the server encodes it', modules: ['registry/server/encodeLease'] },
  ],
  'test/integration/security-audit.test.ts': [adminServer],
  'test/integration/security-fuzz.test.ts': [rawRegistrations],
  'test/integration/security-registry.test.ts': [rawRegistrations],
  'test/integration/service-defaults.test.ts': [defaultAddress],
  'test/integration/shadow-middleware.test.ts': [adminServer],
  'test/integration/shadow-resilience.test.ts': [adminServer],
  'test/integration/sidecar-command.test.ts': [cliInProcess],
  'test/integration/sidecar-process-stop.test.ts': [
    { why: 'the supervised process itself, stopped while it spawns', modules: ['sidecar/SupervisedProcess', 'sidecar/SidecarOptions'] },
  ],
  'test/interop/large-registry.test.ts': [
    { why: "the real server's payload decoded at once on the event loop, to compare the worker's records with", modules: ['registry/eureka/wire'] },
  ],
  'test/interop/java-node.test.ts': [
    { why: "the sliced decoder's reading of the real server's payloads", modules: ['registry/eureka/SliceDecoder', 'registry/eureka/wire'] },
  ],
  'test/faults/generated-inputs.test.ts': [
    {
      why: 'generated inputs for the parsers of untrusted input',
      modules: ['config/parseProperties', 'internal/http', 'registry/eureka/wire', 'sidecar/statsdLine'],
    },
  ],

  // Unit tests whose subject is an internal module.
  'test/unit/admin-ui-options.test.ts': [{ why: "the web UI's option resolver", modules: ['admin/uiRoutes'] }],
  'test/unit/balancer-ejection.test.ts': [
    { why: 'the balancer and outlier ejection', modules: ['balancer/Balancer', 'balancer/OutlierDetector', 'balancer/InstanceState'] },
  ],
  'test/unit/balancer-model.test.ts': [
    { why: 'the balancer, driven by the deterministic model of bench/balancerModel.ts', modules: ['balancer/Balancer'] },
  ],
  'test/unit/balancer-rules.test.ts': [
    { why: 'the balancer and its rules', modules: ['balancer/Balancer', 'balancer/LatencyHistogram', 'balancer/InstanceState'] },
  ],
  'test/unit/breaker-parts.test.ts': [
    {
      why: "the breaker's parts",
      modules: [
        'breaker/CommandSettings',
        'breaker/hystrixEvents',
        'breaker/Bulkhead',
        'breaker/CommandMetrics',
        'breaker/LogLinearHistogram',
        'internal/DeadlineQueue',
      ],
    },
  ],
  'test/unit/client-budget.test.ts': [{ why: 'the retry budget', modules: ['http/RetryBudget'] }],
  'test/unit/client-options.test.ts': [{ why: "the client's option resolver", modules: ['http/ServiceClientOptions'] }],
  'test/unit/client-signal.test.ts': [{ why: "a try's abort signal", modules: ['http/TrySignal'] }],
  'test/unit/config-formats.test.ts': [
    {
      why: 'the configuration parsers',
      modules: ['config/parseProperties', 'config/formats', 'config/TemplateRenderer', 'config/values'],
    },
  ],
  'test/unit/decorators-legacy.test.ts': [{ why: 'what the decorators record', modules: ['lifecycle/decorators'] }],
  'test/unit/eureka-auto-fetch-mode.test.ts': [{ why: "the decision of fetchMode 'auto' from measured costs", modules: ['registry/eureka/AutoFetchMode'] }],
  'test/unit/eureka-discovery.test.ts': [
    { why: "the instances' wire form (EurekaInstance.toJSON)", modules: ['registry/eureka/EurekaInstance'] },
  ],
  'test/unit/eureka-instance-cache.test.ts': [{ why: 'the instance cache', modules: ['registry/InstanceCache'] }],
  'test/unit/eureka-options.test.ts': [
    { why: "the Eureka client's option resolver and retry delays", modules: ['registry/eureka/EurekaRegistryOptions', 'registry/eureka/retryDelay'] },
  ],
  'test/unit/eureka-service-urls.test.ts': [{ why: 'the order of the Eureka servers', modules: ['registry/eureka/EurekaTransport'] }],
  'test/unit/eureka-sliced-fetch.test.ts': [
    { why: 'the sliced decoder of large fetches', modules: ['registry/eureka/SliceDecoder', 'registry/eureka/wire', 'registry/InstanceCache'] },
  ],
  'test/unit/eureka-view-guard.test.ts': [{ why: 'the view guard', modules: ['registry/eureka/ViewGuard'] }],
  'test/unit/eureka-wire.test.ts': [
    { why: 'the Eureka wire codec', modules: ['registry/eureka/wire', 'registry/eureka/EurekaInstance', 'registry/InstanceCache'] },
  ],
  'test/unit/health-checks.test.ts': [{ why: "the TCP check's address parser", modules: ['health/checks/tcpCheck'] }],
  'test/unit/health.test.ts': [{ why: 'one health check and its options', modules: ['health/HealthCheck'] }],
  'test/unit/internal.test.ts': [
    { why: 'the internal helpers', modules: ['internal/async', 'internal/http', 'internal/RepeatingTask'] },
  ],
  'test/unit/lifecycle-core.test.ts': [
    { why: 'the lifecycle core on its narrow interfaces', modules: ['lifecycle/Lifecycle', 'lifecycle/ShutdownStack'] },
  ],
  'test/unit/lifecycle.test.ts': [{ why: 'the mapping of states to registry statuses', modules: ['lifecycle/LifecycleState'] }],
  'test/unit/metrics-builtin.test.ts': [
    { why: 'the metric families in the Prometheus registry', modules: ['metrics/PrometheusRegistry', 'metrics/MetricsOptions', 'metrics/builtin'] },
  ],
  'test/unit/metrics-prometheus.test.ts': [
    { why: 'the Prometheus registry and text format', modules: ['metrics/PrometheusRegistry', 'metrics/MetricsOptions', 'metrics/prometheusText'] },
  ],
  'test/unit/metrics.test.ts': [{ why: 'the metrics options and the statsd wire', modules: ['metrics/MetricsOptions', 'metrics/statsdWire'] }],
  'test/unit/option-keys.test.ts': [
    {
      why: 'checks each key against its one declaration: the settings schema, flattened, the live schema and the instance identity keys',
      modules: ['config/SchemaIndex', 'config/schema', 'config/karyonConfigSchema', 'lifecycle/ServiceOptions'],
    },
  ],
  'test/unit/registry-server-leases.test.ts': [
    {
      why: "the development Eureka server's leases and response cache",
      modules: [
        'registry/eureka/wire',
        'registry/server/applicationsJson',
        'registry/server/encodeLease',
        'registry/server/EurekaLease',
        'registry/server/LeaseRegistry',
        'registry/server/parseRegistration',
        'registry/server/ResponseCache',
      ],
    },
  ],
  'test/unit/registry-server-rules.test.ts': [
    {
      why: "the development Eureka server's status rules",
      modules: ['registry/server/LeaseRegistry', 'registry/server/parseRegistration', 'registry/server/statusRules'],
    },
  ],
  'test/unit/registry-server-wire.test.ts': [
    {
      why: "the development Eureka server's wire",
      modules: [
        'registry/eureka/wire',
        'registry/server/encodeLease',
        'registry/server/EurekaServerOptions',
        'registry/server/LeaseRegistry',
        'registry/server/parseRegistration',
      ],
    },
  ],
  'test/unit/registry.test.ts': [{ why: 'the status parser', modules: ['registry/types'] }],
  'test/unit/security-admin.test.ts': [
    {
      why: "the admin server's tokens, options and rate limiter, and the audit log (public only as a type)",
      modules: ['admin/AdminTokens', 'admin/AuditLog', 'admin/AdminOptions', 'admin/RateLimiter'],
    },
  ],
  'test/unit/security-registry.test.ts': [
    {
      why: 'the option resolvers of the Eureka client and server, and registry access',
      modules: ['internal/http', 'registry/eureka/EurekaRegistryOptions', 'registry/server/EurekaServerOptions', 'registry/server/RegistryAccess'],
    },
  ],
  'test/unit/shadow-compare.test.ts': [
    {
      why: "shadow traffic's response comparison",
      modules: ['http/shadow/FieldPattern', 'http/shadow/ShadowOptions', 'http/shadow/CapturedResponse', 'http/shadow/diffJson', 'http/shadow/ResponseComparator'],
    },
  ],
  'test/unit/sidecar-config.test.ts': [
    { why: "the sidecar's option resolver and the client options it passes on", modules: ['sidecar/SidecarOptions', 'http/ServiceClientOptions'] },
  ],
  'test/unit/sidecar-statsd.test.ts': [
    { why: "the sidecar's statsd parser and relay (public only as a type)", modules: ['sidecar/statsdLine', 'sidecar/StatsdRelay'] },
  ],
};

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const moduleOf = (module) => `^src/${escape(module)}\\.ts$`;
const allowances = Object.entries(internalImports).map(([file, reasons]) => ({
  file,
  modules: [...new Set(reasons.flatMap((reason) => reason.modules))],
  why: reasons.map((reason) => reason.why).join('; '),
}));

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'test-imports-entry-points',
      severity: 'error',
      comment:
        'A test imports the package as users do, through its entry points. A test of an internal module names ' +
        'that module in internalImports (.dependency-cruiser.tests.cjs), with the reason.',
      from: { path: '^test/', pathNot: allowances.map(({ file }) => `^${escape(file)}$`) },
      to: { path: '^src/', pathNot: entryPoints },
    },
    ...allowances.map(({ file, modules, why }) => ({
      name: 'test-internal-imports',
      severity: 'error',
      comment: `${file} may import, besides the entry points: ${modules.join(', ')} (${why}).`,
      from: { path: `^${escape(file)}$` },
      to: { path: '^src/', pathNot: [entryPoints, ...modules.map(moduleOf)] },
    })),
  ],
  // An allowance the file no longer uses fails as well, so internalImports stays exact.
  required: allowances.flatMap(({ file, modules }) =>
    modules.map((module) => ({
      name: 'test-internal-import-used',
      severity: 'error',
      comment: `${file} is allowed to import src/${module}.ts but does not: remove it from internalImports.`,
      module: { path: `^${escape(file)}$` },
      to: { path: moduleOf(module) },
    })),
  ),
  options: {
    doNotFollow: { path: ['node_modules', '^src/'] },
    exclude: { path: ['^src/admin/ui/', '^test/package/consumers/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'types', 'default'] },
  },
};

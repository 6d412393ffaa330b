package karyon.interop.fetch;

import com.netflix.appinfo.ApplicationInfoManager;
import com.netflix.appinfo.InstanceInfo;
import com.netflix.appinfo.DataCenterInfo;
import com.netflix.appinfo.EurekaAccept;
import com.netflix.appinfo.MyDataCenterInfo;
import com.netflix.discovery.CacheRefreshedEvent;
import com.netflix.discovery.DiscoveryClient;
import com.netflix.discovery.EurekaClientConfig;
import com.netflix.discovery.EurekaEvent;
import com.netflix.discovery.EurekaEventListener;
import com.netflix.discovery.Jersey3DiscoveryClientOptionalArgs;
import com.netflix.discovery.shared.Application;
import com.netflix.discovery.shared.resolver.EurekaEndpoint;
import com.netflix.discovery.shared.transport.EurekaHttpClient;
import com.netflix.discovery.shared.transport.EurekaHttpResponse;
import com.netflix.discovery.shared.transport.EurekaTransportConfig;
import com.netflix.discovery.shared.transport.TransportClientFactory;
import com.netflix.discovery.shared.transport.decorator.EurekaHttpClientDecorator;
import com.netflix.discovery.shared.transport.jersey.TransportClientFactories;
import com.netflix.discovery.shared.transport.jersey3.Jersey3TransportClientFactories;
import com.sun.management.GarbageCollectionNotificationInfo;
import jakarta.ws.rs.client.ClientRequestFilter;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import javax.management.NotificationEmitter;
import javax.management.openmbean.CompositeData;
import javax.net.ssl.HostnameVerifier;
import javax.net.ssl.SSLContext;

/**
 * Runs the Netflix Eureka client (DiscoveryClient, Jersey 3 transport, full registry fetch, deltas on) against
 * one Eureka URL and prints what its fetches cost, one JSON object a line on stdout:
 *
 * <ul>
 *   <li>{@code start}: the JVM, its collectors and flags;
 *   <li>{@code warmup}, {@code empty}: optional fetches by throw-away clients first, from {@code --warmup-url}
 *       (loads the classes and compiles the code before the measured fetch) and {@code --empty-url} (what a
 *       client costs around an empty registry);
 *   <li>{@code full}: the measured client's first full fetch: time from its own GET /apps to the registry
 *       applied (the CacheRefreshedEvent), and from its constructor to the same point; the instances it holds;
 *       heap used after a full GC, per instance; the GC pauses, CPU and allocation of the fetch;
 *   <li>{@code delta}, {@code --deltas} times: each refresh applied after that (every
 *       {@code --fetch-interval-seconds}), its time from its own GET /apps/delta to the registry applied;
 *   <li>{@code closed}: the growth of the resident set since before the measured client, once it is shut down;
 *   <li>{@code done}, or {@code error} with a message (exit 1).
 * </ul>
 *
 * Times are from the client's own start of each fetch, so JVM start-up and class loading are not counted.
 */
public final class EurekaFetchApp {
  private EurekaFetchApp() {}

  public static void main(String[] argv) {
    // Started by a test or a benchmark: leave with it, even when it dies without stopping us.
    Long parent = Long.getLong("interop.parent-pid");
    if (parent != null) {
      ProcessHandle.of(parent).ifPresentOrElse(
          p -> p.onExit().thenRun(() -> Runtime.getRuntime().halt(3)), () -> Runtime.getRuntime().halt(3));
    }
    Map<String, String> args = new LinkedHashMap<>();
    for (String arg : argv) {
      int eq = arg.indexOf('=');
      if (!arg.startsWith("--") || eq < 0) fail("arguments are --name=value, got " + arg);
      args.put(arg.substring(2, eq), arg.substring(eq + 1));
    }
    try {
      run(args);
    } catch (Throwable error) {
      fail(String.valueOf(error));
    }
    // The client's threads are daemons, but Jersey's and archaius's may not be.
    System.exit(0);
  }

  private static void run(Map<String, String> args) throws Exception {
    String url = args.get("url");
    if (url == null) fail("--url=<Eureka service URL> is required");
    int intervalSeconds = Integer.parseInt(args.getOrDefault("fetch-interval-seconds", "1"));
    int deltas = Integer.parseInt(args.getOrDefault("deltas", "0"));
    long timeoutMs = Long.parseLong(args.getOrDefault("timeout-seconds", "600")) * 1000;
    GcWatch gc = new GcWatch();
    Ticker ticker = new Ticker();
    ticker.start();

    Map<String, Object> start = new LinkedHashMap<>();
    start.put("event", "start");
    start.put("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version"));
    start.put("collectors", String.join(",", gc.names()));
    start.put("jvmArgs", String.join(" ", ManagementFactory.getRuntimeMXBean().getInputArguments()));
    start.put("maxHeapBytes", Runtime.getRuntime().maxMemory());
    start.put("processors", Runtime.getRuntime().availableProcessors());
    emit(start);

    for (String phase : List.of("warmup", "empty")) {
      String other = args.get(phase + "-url");
      if (other == null) continue;
      Probe probe = new Probe();
      long constructed = System.nanoTime();
      // A long interval: this client's only fetch is its first.
      DiscoveryClient client = newClient(other, 3600, probe);
      Sample first = probe.next(timeoutMs, "the first fetch from " + other);
      Map<String, Object> line = new LinkedHashMap<>();
      line.put("event", phase);
      line.put("instances", instances(client));
      line.put("fetchMs", ms(first.endNanos - first.startNanos));
      line.put("constructMs", ms(first.endNanos - constructed));
      emit(line);
      client.shutdown();
    }

    long heapBefore = heapAfterFullGc();
    long rssBefore = rssBytes();
    Probe probe = new Probe();
    long cpuBefore = processCpuNanos();
    long uptimeBefore = ManagementFactory.getRuntimeMXBean().getUptime();
    ticker.reset();
    long constructed = System.nanoTime();
    DiscoveryClient client = newClient(url, intervalSeconds, probe);
    Sample first = probe.next(timeoutMs, "the first fetch from " + url);
    long cpuAfter = processCpuNanos();
    double tickerGapMs = ticker.maxGapMs();
    List<Pause> pauses = gc.pausesSince(uptimeBefore);
    int held = instances(client);
    Map<String, Object> full = new LinkedHashMap<>();
    full.put("event", "full");
    full.put("kind", first.kind);
    full.put("instances", held);
    full.put("apps", client.getApplications().getRegisteredApplications().size());
    full.put("statuses", statuses(client));
    full.put("fetchMs", ms(first.endNanos - first.startNanos));
    full.put("constructMs", ms(first.endNanos - constructed));
    full.put("fetchThreadCpuMs", ms(first.cpuNanos));
    full.put("fetchAllocatedBytes", first.allocatedBytes);
    full.put("processCpuMs", ms(cpuAfter - cpuBefore));
    putPauses(full, pauses);
    full.put("tickerMaxGapMs", tickerGapMs);
    long heapAfter = heapAfterFullGc();
    full.put("heapBytes", heapAfter - heapBefore);
    full.put("heapBytesPerInstance", held == 0 ? 0 : (double) (heapAfter - heapBefore) / held);
    // The process's resident memory grew by this much (Linux; -1 elsewhere): heap the collector committed too.
    full.put("rssBytes", rssBefore < 0 ? -1 : rssBytes() - rssBefore);
    emit(full);

    // Refreshes that began before this point overlapped the full GCs of the heap measurement: not counted.
    probe.clear();
    for (int i = 1; i <= deltas; i++) {
      Sample sample = probe.next(timeoutMs, "refresh " + i);
      Map<String, Object> line = new LinkedHashMap<>();
      line.put("event", "delta");
      line.put("index", i);
      // "full" when the client fell back to a full fetch (e.g. the delta's hash did not match).
      line.put("kind", sample.kind);
      line.put("instances", instances(client));
      line.put("statuses", statuses(client));
      line.put("ms", ms(sample.endNanos - sample.startNanos));
      line.put("threadCpuMs", ms(sample.cpuNanos));
      line.put("allocatedBytes", sample.allocatedBytes);
      putPauses(line, gc.pausesSince(sample.startUptimeMs()));
      emit(line);
    }
    client.shutdown();
    // What stays resident once the client is gone (the collector keeps the heap it committed).
    heapAfterFullGc();
    emit(Map.of("event", "closed", "rssBytes", rssBefore < 0 ? -1 : rssBytes() - rssBefore));
    emit(Map.of("event", "done"));
  }

  /** A DiscoveryClient of `url` that fetches every instance of every status and registers nothing. */
  private static DiscoveryClient newClient(String url, int intervalSeconds, Probe probe) {
    // This client registers nothing: its own instance only names it in the requests it sends, and no
    // instance configuration is read (the manager's is used to register).
    InstanceInfo self = InstanceInfo.Builder.newBuilder((java.util.function.Function<String, String>) vip -> vip)
        .setAppName("EUREKA-FETCH").setInstanceId("eureka-fetch-" + ProcessHandle.current().pid())
        .setHostName("127.0.0.1").setIPAddr("127.0.0.1")
        .setDataCenterInfo(new MyDataCenterInfo(DataCenterInfo.Name.MyOwn)).build();
    ApplicationInfoManager manager = new ApplicationInfoManager(null, self, null);
    Jersey3DiscoveryClientOptionalArgs optional = new Jersey3DiscoveryClientOptionalArgs();
    optional.setEventListeners(Set.of(probe));
    return new DiscoveryClient(manager, new FetchConfig(url, intervalSeconds), new TimedTransport(probe), optional);
  }

  /** How many instances the client holds of each status. */
  private static Map<String, Integer> statuses(DiscoveryClient client) {
    Map<String, Integer> counts = new TreeMap<>();
    for (Application app : client.getApplications().getRegisteredApplications()) {
      for (InstanceInfo instance : app.getInstancesAsIsFromEureka()) counts.merge(instance.getStatus().name(), 1, Integer::sum);
    }
    return counts;
  }

  /** Every instance the client holds, of every status. */
  private static int instances(DiscoveryClient client) {
    int n = 0;
    for (Application app : client.getApplications().getRegisteredApplications()) n += app.getInstancesAsIsFromEureka().size();
    return n;
  }

  /**
   * The client's settings: this URL, this interval, every status kept (as the Node clients measured keep them),
   * nothing registered; every other setting is Netflix's default (DefaultEurekaClientConfig's), written out
   * because that class reads them through archaius, which Spring Cloud's dependencies leave out.
   */
  private static final class FetchConfig implements EurekaClientConfig {
    private final String url;
    private final int intervalSeconds;

    FetchConfig(String url, int intervalSeconds) {
      this.url = url.endsWith("/") ? url : url + "/";
      this.intervalSeconds = intervalSeconds;
    }

    @Override public List<String> getEurekaServerServiceUrls(String zone) { return List.of(url); }
    @Override public boolean shouldRegisterWithEureka() { return false; }
    @Override public boolean shouldFetchRegistry() { return true; }
    @Override public boolean shouldDisableDelta() { return false; }
    @Override public boolean shouldFilterOnlyUpInstances() { return false; }
    @Override public int getRegistryFetchIntervalSeconds() { return intervalSeconds; }
    // A 100 MiB registry on a loaded machine can take longer than the default 8 s read timeout.
    @Override public int getEurekaServerReadTimeoutSeconds() { return 120; }
    @Override public boolean shouldOnDemandUpdateStatusChange() { return false; }

    @Override public int getInstanceInfoReplicationIntervalSeconds() { return 30; }
    @Override public int getInitialInstanceInfoReplicationIntervalSeconds() { return 40; }
    @Override public int getEurekaServiceUrlPollIntervalSeconds() { return 300; }
    @Override public String getProxyHost() { return null; }
    @Override public String getProxyPort() { return null; }
    @Override public String getProxyUserName() { return null; }
    @Override public String getProxyPassword() { return null; }
    @Override public boolean shouldGZipContent() { return true; }
    @Override public int getEurekaServerConnectTimeoutSeconds() { return 5; }
    @Override public String getBackupRegistryImpl() { return null; }
    @Override public int getEurekaServerTotalConnections() { return 200; }
    @Override public int getEurekaServerTotalConnectionsPerHost() { return 50; }
    @Override public String getEurekaServerURLContext() { return null; }
    @Override public String getEurekaServerPort() { return null; }
    @Override public String getEurekaServerDNSName() { return null; }
    @Override public boolean shouldUseDnsForFetchingServiceUrls() { return false; }
    @Override public boolean shouldPreferSameZoneEureka() { return true; }
    @Override public boolean allowRedirects() { return false; }
    @Override public boolean shouldLogDeltaDiff() { return false; }
    @Override public String fetchRegistryForRemoteRegions() { return null; }
    @Override public String getRegion() { return "us-east-1"; }
    @Override public String[] getAvailabilityZones(String region) { return new String[] {"defaultZone"}; }
    @Override public int getEurekaConnectionIdleTimeoutSeconds() { return 30; }
    @Override public String getRegistryRefreshSingleVipAddress() { return null; }
    @Override public int getHeartbeatExecutorThreadPoolSize() { return 2; }
    @Override public int getHeartbeatExecutorExponentialBackOffBound() { return 10; }
    @Override public int getCacheRefreshExecutorThreadPoolSize() { return 2; }
    @Override public int getCacheRefreshExecutorExponentialBackOffBound() { return 10; }
    @Override public String getDollarReplacement() { return "_-"; }
    @Override public String getEscapeCharReplacement() { return "__"; }
    @Override public String getEncoderName() { return null; }
    @Override public String getDecoderName() { return null; }
    @Override public String getClientDataAccept() { return EurekaAccept.full.name(); }
    @Override public String getExperimental(String name) { return null; }
    @Override public EurekaTransportConfig getTransportConfig() { return TRANSPORT; }
  }

  /** Netflix's defaults (DefaultEurekaTransportConfig's). */
  private static final EurekaTransportConfig TRANSPORT = new EurekaTransportConfig() {
    @Override public int getSessionedClientReconnectIntervalSeconds() { return 20 * 60; }
    @Override public double getRetryableClientQuarantineRefreshPercentage() { return 0.66; }
    @Override public int getApplicationsResolverDataStalenessThresholdSeconds() { return 5 * 60; }
    @Override public boolean applicationsResolverUseIp() { return false; }
    @Override public int getAsyncResolverRefreshIntervalMs() { return 5 * 60 * 1000; }
    @Override public int getAsyncResolverWarmUpTimeoutMs() { return 5000; }
    @Override public int getAsyncExecutorThreadPoolSize() { return 5; }
    @Override public String getWriteClusterVip() { return null; }
    @Override public String getReadClusterVip() { return null; }
    @Override public String getBootstrapResolverStrategy() { return null; }
    @Override public boolean useBootstrapResolverForQuery() { return true; }
  };

  /** Where a fetch began (its GET), on the thread that fetches and applies it. */
  private record Start(String kind, long nanos, long uptimeMs, long threadId, long cpuNanos, long allocatedBytes) {}

  /** One fetch, from its GET to the registry applied. */
  private record Sample(String kind, long startNanos, long startUptimeMs, long endNanos, long cpuNanos, long allocatedBytes) {}

  /** Times each fetch from its request to the CacheRefreshedEvent that follows it on the same thread. */
  private static final class Probe implements EurekaEventListener {
    private volatile Start pending;
    private final BlockingQueue<Sample> samples = new LinkedBlockingQueue<>();

    void requestStarted(String kind) {
      Thread thread = Thread.currentThread();
      pending = new Start(kind, System.nanoTime(), ManagementFactory.getRuntimeMXBean().getUptime(), thread.getId(), threadCpuNanos(), threadAllocatedBytes(thread));
    }

    @Override
    public void onEvent(EurekaEvent event) {
      if (!(event instanceof CacheRefreshedEvent)) return;
      long now = System.nanoTime();
      Start start = pending;
      pending = null;
      Thread thread = Thread.currentThread();
      if (start == null || start.threadId() != thread.getId()) return;
      samples.add(new Sample(start.kind(), start.nanos(), start.uptimeMs(), now, threadCpuNanos() - start.cpuNanos(),
          threadAllocatedBytes(thread) - start.allocatedBytes()));
    }

    Sample next(long timeoutMs, String what) throws InterruptedException {
      Sample sample = samples.poll(timeoutMs, TimeUnit.MILLISECONDS);
      if (sample == null) throw new IllegalStateException("no " + what + " within " + timeoutMs + " ms");
      return sample;
    }

    void clear() {
      samples.clear();
    }
  }

  /** The Jersey 3 transport, each registry request of which tells the probe it began. */
  private static final class TimedTransport implements TransportClientFactories<ClientRequestFilter> {
    private final Jersey3TransportClientFactories jersey = Jersey3TransportClientFactories.getInstance();
    private final Probe probe;

    TimedTransport(Probe probe) {
      this.probe = probe;
    }

    @Override
    public TransportClientFactory newTransportClientFactory(EurekaClientConfig config, Collection<ClientRequestFilter> filters, InstanceInfo self) {
      return timed(jersey.newTransportClientFactory(config, filters, self));
    }

    @Override
    public TransportClientFactory newTransportClientFactory(EurekaClientConfig config, Collection<ClientRequestFilter> filters, InstanceInfo self,
        Optional<SSLContext> ssl, Optional<HostnameVerifier> verifier) {
      return timed(jersey.newTransportClientFactory(config, filters, self, ssl, verifier));
    }

    private TransportClientFactory timed(TransportClientFactory inner) {
      return new TransportClientFactory() {
        @Override
        public EurekaHttpClient newClient(EurekaEndpoint endpoint) {
          EurekaHttpClient http = inner.newClient(endpoint);
          return new EurekaHttpClientDecorator() {
            @Override
            protected <R> EurekaHttpResponse<R> execute(RequestExecutor<R> executor) {
              switch (executor.getRequestType()) {
                case GetApplications -> probe.requestStarted("full");
                case GetDelta -> probe.requestStarted("delta");
                default -> { }
              }
              return executor.execute(http);
            }

            @Override
            public void shutdown() {
              http.shutdown();
            }
          };
        }

        @Override
        public void shutdown() {
          inner.shutdown();
        }
      };
    }
  }

  /** A GC pause: its collector, cause, start (ms of JVM uptime) and duration. */
  private record Pause(String collector, String cause, long startMs, long durationMs) {}

  /**
   * The collections of the JVM's stop-the-world collectors (G1: young/mixed and full; the remark and cleanup
   * pauses of G1's concurrent cycle have no notification on Java 17), from their notifications.
   */
  private static final class GcWatch {
    private final List<Pause> pauses = new ArrayList<>();
    private final List<GarbageCollectorMXBean> beans = ManagementFactory.getGarbageCollectorMXBeans();

    GcWatch() {
      for (GarbageCollectorMXBean bean : beans) {
        if (!(bean instanceof NotificationEmitter emitter)) continue;
        emitter.addNotificationListener((notification, handback) -> {
          if (!GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION.equals(notification.getType())) return;
          GarbageCollectionNotificationInfo info = GarbageCollectionNotificationInfo.from((CompositeData) notification.getUserData());
          synchronized (pauses) {
            pauses.add(new Pause(info.getGcName(), info.getGcCause(), info.getGcInfo().getStartTime(), info.getGcInfo().getDuration()));
          }
        }, null, null);
      }
    }

    List<String> names() {
      return beans.stream().map(GarbageCollectorMXBean::getName).toList();
    }

    /** The pauses that began at or after `uptimeMs`, except the explicit full GCs of the heap measurement. */
    List<Pause> pausesSince(long uptimeMs) throws InterruptedException {
      long counted = beans.stream().mapToLong(GarbageCollectorMXBean::getCollectionCount).sum();
      // Notifications arrive on their own thread, after the collection: wait for those already counted.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
      while (System.nanoTime() < deadline) {
        synchronized (pauses) {
          if (pauses.size() >= counted) break;
        }
        Thread.sleep(5);
      }
      synchronized (pauses) {
        return pauses.stream().filter(p -> p.startMs() >= uptimeMs && !"System.gc()".equals(p.cause())).toList();
      }
    }
  }

  private static void putPauses(Map<String, Object> line, List<Pause> pauses) {
    Pause longest = pauses.stream().max((a, b) -> Long.compare(a.durationMs(), b.durationMs())).orElse(null);
    line.put("gcCount", pauses.size());
    line.put("gcTotalMs", pauses.stream().mapToLong(Pause::durationMs).sum());
    line.put("gcMaxMs", longest == null ? 0 : longest.durationMs());
    line.put("gcMaxName", longest == null ? "-" : longest.collector() + " (" + longest.cause() + ")");
  }

  /**
   * A thread that sleeps 1 ms at a time and keeps its longest gap between wake-ups: what a safepoint (a GC
   * pause) or a starved CPU costs a thread of the application while the client fetches.
   */
  private static final class Ticker extends Thread {
    private volatile long maxGapNanos;
    private volatile long last = System.nanoTime();

    Ticker() {
      super("fetch-ticker");
      setDaemon(true);
    }

    @Override
    public void run() {
      for (;;) {
        try {
          Thread.sleep(1);
        } catch (InterruptedException e) {
          return;
        }
        long now = System.nanoTime();
        if (now - last > maxGapNanos) maxGapNanos = now - last;
        last = now;
      }
    }

    void reset() {
      last = System.nanoTime();
      maxGapNanos = 0;
    }

    double maxGapMs() {
      return ms(Math.max(maxGapNanos, System.nanoTime() - last));
    }
  }

  private static long heapAfterFullGc() {
    System.gc();
    System.gc();
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  /** Resident memory of the process (Linux), -1 where unknown. */
  private static long rssBytes() {
    try {
      String[] statm = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/self/statm")).trim().split(" ");
      return Long.parseLong(statm[1]) * 4096;
    } catch (Exception e) {
      return -1;
    }
  }

  private static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
  }

  private static long threadCpuNanos() {
    return ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
  }

  private static long threadAllocatedBytes(Thread thread) {
    return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getThreadAllocatedBytes(thread.getId());
  }

  private static double ms(long nanos) {
    return Math.round(nanos / 1e3) / 1e3;
  }

  private static void fail(String message) {
    emit(Map.of("event", "error", "message", message));
    System.exit(1);
  }

  private static synchronized void emit(Map<String, ?> fields) {
    System.out.println(json(fields));
    System.out.flush();
  }

  private static String json(Map<String, ?> fields) {
    StringBuilder out = new StringBuilder("{");
    for (Map.Entry<String, ?> field : fields.entrySet()) {
      if (out.length() > 1) out.append(',');
      out.append(quote(field.getKey())).append(':');
      Object value = field.getValue();
      if (value instanceof Map<?, ?> map) {
        Map<String, Object> nested = new LinkedHashMap<>();
        map.forEach((k, v) -> nested.put(String.valueOf(k), v));
        out.append(json(nested));
      } else {
        out.append(value instanceof Number || value instanceof Boolean ? String.valueOf(value) : quote(String.valueOf(value)));
      }
    }
    return out.append('}').toString();
  }

  private static String quote(String text) {
    StringBuilder out = new StringBuilder("\"");
    for (char c : text.toCharArray()) {
      if (c == '"' || c == '\\') out.append('\\').append(c);
      else if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
      else out.append(c);
    }
    return out.append('"').toString();
  }
}

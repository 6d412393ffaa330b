package karyon.interop.service;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.cloud.client.loadbalancer.LoadBalanced;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Primary;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.client.RestClient;

/**
 * A Java service found through Eureka. GET /hello answers with this instance's id; GET /call makes n calls to
 * http://{vip}{path} through a @LoadBalanced client and answers with how many each body got and what failed.
 */
@SpringBootApplication
@RestController
public class JavaServiceApp {
  private final RestClient client;
  private final String instanceId;

  public JavaServiceApp(@LoadBalanced RestClient.Builder builder, @Value("${eureka.instance.instance-id:java}") String instanceId) {
    this.client = builder.build();
    this.instanceId = instanceId;
  }

  @Bean
  @LoadBalanced
  static RestClient.Builder loadBalancedRestClientBuilder() {
    return RestClient.builder();
  }

  /** The Eureka client's own transport takes the primary builder: it must not resolve its server URLs as VIPs. */
  @Bean
  @Primary
  static RestClient.Builder restClientBuilder() {
    return RestClient.builder();
  }

  public static void main(String[] args) {
    // Started by a test: leave with it, even when it dies without stopping us.
    Long parent = Long.getLong("interop.parent-pid");
    if (parent != null) {
      ProcessHandle.of(parent).ifPresentOrElse(
          p -> p.onExit().thenRun(() -> Runtime.getRuntime().halt(3)), () -> Runtime.getRuntime().halt(3));
    }
    SpringApplication.run(JavaServiceApp.class, args);
  }

  @GetMapping("/hello")
  public String hello() {
    return instanceId;
  }

  @GetMapping("/call")
  public Map<String, Object> call(
      @RequestParam String vip, @RequestParam(defaultValue = "/hello") String path, @RequestParam(defaultValue = "1") int n) {
    Map<String, Integer> counts = new TreeMap<>();
    Map<String, Integer> errors = new TreeMap<>();
    int failed = 0;
    for (int i = 0; i < n; i++) {
      try {
        String body = client.get().uri("http://" + vip + path).retrieve().body(String.class);
        counts.merge(body == null ? "" : body.trim(), 1, Integer::sum);
      } catch (RuntimeException e) {
        failed++;
        errors.merge(e.getClass().getSimpleName() + ": " + String.valueOf(e.getMessage()), 1, Integer::sum);
      }
    }
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("counts", counts);
    out.put("failed", failed);
    out.put("errors", errors);
    return out;
  }
}

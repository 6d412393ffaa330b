package karyon.interop.eureka;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.cloud.netflix.eureka.server.EnableEurekaServer;

/** A stock Spring Cloud Netflix Eureka server; every setting comes from the command line. */
@SpringBootApplication
@EnableEurekaServer
public class EurekaServerApp {
  public static void main(String[] args) {
    // Started by a test: leave with it, even when it dies without stopping us.
    Long parent = Long.getLong("interop.parent-pid");
    if (parent != null) {
      ProcessHandle.of(parent).ifPresentOrElse(
          p -> p.onExit().thenRun(() -> Runtime.getRuntime().halt(3)), () -> Runtime.getRuntime().halt(3));
    }
    SpringApplication.run(EurekaServerApp.class, args);
  }
}

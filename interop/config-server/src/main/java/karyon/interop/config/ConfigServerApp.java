package karyon.interop.config;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.cloud.config.server.EnableConfigServer;

/** A stock Spring Cloud Config Server; the native (file) backend's folder comes from the command line. */
@SpringBootApplication
@EnableConfigServer
public class ConfigServerApp {
  public static void main(String[] args) {
    // Started by a test: leave with it, even when it dies without stopping us.
    Long parent = Long.getLong("interop.parent-pid");
    if (parent != null) {
      ProcessHandle.of(parent).ifPresentOrElse(
          p -> p.onExit().thenRun(() -> Runtime.getRuntime().halt(3)), () -> Runtime.getRuntime().halt(3));
    }
    SpringApplication.run(ConfigServerApp.class, args);
  }
}

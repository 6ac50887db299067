// Used by kafka.sh: waits until the broker answers, then creates the missing topics (one JVM for all).
// Usage: java -cp "classes:libs/*" KafkaTopics BOOTSTRAP PARTITIONS WAIT_S TOPIC...
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;

public class KafkaTopics {
  public static void main(String[] args) throws Exception {
    String bootstrap = args[0];
    int partitions = Integer.parseInt(args[1]);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(Long.parseLong(args[2]));
    Properties props = new Properties();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 3000);
    props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 5000);
    try (Admin admin = Admin.create(props)) {
      Set<String> existing = null;
      // The broker needs a few seconds after start before it serves metadata; retry until the deadline.
      while (existing == null) {
        try {
          existing = admin.listTopics().names().get(5, TimeUnit.SECONDS);
        } catch (Exception e) {
          if (System.nanoTime() > deadline) {
            System.err.println("Kafka did not answer at " + bootstrap + ": " + e.getMessage());
            System.exit(1);
          }
          Thread.sleep(500);
        }
      }
      List<NewTopic> missing = new ArrayList<>();
      for (int i = 3; i < args.length; i++) {
        if (!existing.contains(args[i])) {
          missing.add(new NewTopic(args[i], partitions, (short) 1));
        }
      }
      if (!missing.isEmpty()) {
        admin.createTopics(missing).all().get(30, TimeUnit.SECONDS);
      }
      for (NewTopic t : missing) {
        System.out.println("created topic " + t.name() + " (" + partitions + " partitions)");
      }
    }
  }
}

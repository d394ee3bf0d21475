// A real Hadoop cluster on loopback for aiflow's tests, from Hadoop's own mini-cluster classes.
//
// Two kinds of process, each with the "hadoop-cluster" jar group on the class path (cluster.py
// compiles this file once with javac; Java's source launcher, `java ... MiniHadoop.java`, also
// works, and needs the --add-opens flags that cluster.py passes on JDK 17):
//   java -cp '<jars>/*' MiniHadoop.java master BASE_DIR
//       a NameNode and a DataNode (MiniDFSCluster, WebHDFS on) and a ResourceManager
//       (MiniYARNCluster without NodeManagers); writes BASE_DIR/conf/{core,hdfs,yarn}-site.xml,
//       a HADOOP_CONF_DIR for clients and for the NodeManagers.
//   java -cp '<jars>/*' MiniHadoop.java nodemanager BASE_DIR INDEX
//       one NodeManager registered with that ResourceManager, its dirs under BASE_DIR/nm-INDEX.
// Each prints one line "READY {json}" with its addresses, then runs until its stdin closes.
//
// Why a JVM per daemon: the web apps of YARN daemons share Guice's static GuiceFilter, so in
// one JVM the last daemon started answers every daemon's REST paths (the ResourceManager's
// /ws/v1/cluster would 404). A NodeManager of its own is also what a "host" is in the tests:
// killing its process tree is losing a node.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hdfs.HdfsConfiguration;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.apache.hadoop.yarn.conf.YarnConfiguration;
import org.apache.hadoop.yarn.server.MiniYARNCluster;
import org.apache.hadoop.yarn.server.nodemanager.NodeManager;

public class MiniHadoop {
  public static void main(String[] args) throws Exception {
    Path base = Paths.get(args[1]).toAbsolutePath();
    if (args[0].equals("master")) {
      master(base);
    } else {
      nodeManager(base, Integer.parseInt(args[2]));
    }
  }

  static void master(Path base) throws Exception {
    Configuration conf = new YarnConfiguration(new HdfsConfiguration());
    conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, base.resolve("dfs").toString());
    conf.set("hadoop.tmp.dir", base.resolve("tmp").toString());
    conf.setBoolean("dfs.webhdfs.enabled", true);
    conf.setBoolean("dfs.permissions.enabled", false);
    MiniDFSCluster dfs = new MiniDFSCluster.Builder(conf).numDataNodes(1).format(true).build();
    dfs.waitActive();
    String defaultFs = dfs.getFileSystem().getUri().toString();
    conf.set("fs.defaultFS", defaultFs);
    // what a container's CLASSPATH gets for Hadoop (Flink's YARN containers read it): on a real
    // cluster the install's share/hadoop dirs, here the conf dir and the jar dir of this JVM
    conf.set(YarnConfiguration.YARN_APPLICATION_CLASSPATH,
        base.resolve("conf") + "," + System.getProperty("aiflow.hadoop.jars") + "/*");

    conf.setBoolean(YarnConfiguration.LOG_AGGREGATION_ENABLED, true);
    conf.set(YarnConfiguration.NM_REMOTE_APP_LOG_DIR, "/tmp/logs");
    conf.setInt(YarnConfiguration.RM_SCHEDULER_MINIMUM_ALLOCATION_MB, 128);
    conf.setInt(YarnConfiguration.RM_SCHEDULER_MAXIMUM_ALLOCATION_MB, 4096);
    conf.setInt(YarnConfiguration.NM_PMEM_MB, 6144);
    conf.setInt(YarnConfiguration.NM_VCORES, 8);
    conf.setBoolean(YarnConfiguration.NM_VMEM_CHECK_ENABLED, false);
    conf.setFloat(YarnConfiguration.NM_MAX_PER_DISK_UTILIZATION_PERCENTAGE, 99.9f);
    conf.setLong(YarnConfiguration.RM_NM_EXPIRY_INTERVAL_MS, 10000);
    conf.setLong(YarnConfiguration.RESOURCEMANAGER_CONNECT_RETRY_INTERVAL_MS, 500);
    // The CapacityScheduler's queues (a real cluster has capacity-scheduler.xml): one, "default".
    conf.set("yarn.scheduler.capacity.root.queues", "default");
    conf.set("yarn.scheduler.capacity.root.default.capacity", "100");
    conf.set("yarn.scheduler.capacity.root.default.maximum-capacity", "100");
    // Every aiflow job is an ApplicationMaster container: let AMs use the whole queue (the
    // default, 10%, runs two 512 MB jobs at once here; docs/yarn.md tells admins the same).
    conf.set("yarn.scheduler.capacity.maximum-am-resource-percent", "1.0");
    // Schedule by memory and vcores both, as production clusters do (the default counts
    // memory only and grants one vcore whatever an application asks).
    conf.set("yarn.scheduler.capacity.resource-calculator",
        "org.apache.hadoop.yarn.util.resource.DominantResourceCalculator");
    MiniYARNCluster yarn = new MiniYARNCluster("aiflow", 1, 0, 1, 1);
    yarn.init(conf);
    yarn.start();
    Configuration full = yarn.getResourceManager().getConfig();
    Path confDir = Files.createDirectories(base.resolve("conf"));
    for (String name : new String[] {"core-site.xml", "hdfs-site.xml", "yarn-site.xml"}) {
      try (OutputStream out = Files.newOutputStream(confDir.resolve(name))) {
        full.writeXml(out);
      }
    }
    String nnHttp = dfs.getNameNode().getHttpAddress().getHostString() + ":"
        + dfs.getNameNode().getHttpAddress().getPort();
    ready("{\"resource_manager\": \"http://" + full.get(YarnConfiguration.RM_WEBAPP_ADDRESS)
        + "\", \"default_fs\": \"" + defaultFs + "\", \"namenode_http\": \"http://" + nnHttp
        + "\", \"conf_dir\": \"" + confDir + "\"}");
    yarn.stop();
    dfs.shutdown();
    System.exit(0);
  }

  static void nodeManager(Path base, int index) throws Exception {
    Configuration conf = new YarnConfiguration();
    for (String name : new String[] {"core-site.xml", "hdfs-site.xml", "yarn-site.xml"}) {
      conf.addResource(new org.apache.hadoop.fs.Path(base.resolve("conf").resolve(name).toUri()));
    }
    Path dir = Files.createDirectories(base.resolve("nm-" + index));
    conf.set(YarnConfiguration.NM_LOCAL_DIRS, dir.resolve("local").toString());
    conf.set(YarnConfiguration.NM_LOG_DIRS, dir.resolve("logs").toString());
    conf.set(YarnConfiguration.NM_ADDRESS, "localhost:0");
    conf.set(YarnConfiguration.NM_LOCALIZER_ADDRESS, "localhost:0");
    conf.set(YarnConfiguration.NM_WEBAPP_ADDRESS, "localhost:0");
    conf.set(YarnConfiguration.NM_COLLECTOR_SERVICE_ADDRESS, "localhost:0");
    NodeManager nodeManager = new NodeManager();
    nodeManager.init(conf);
    nodeManager.start();
    var context = nodeManager.getNMContext();
    ready("{\"id\": \"" + context.getNodeId() + "\", \"http_port\": " + context.getHttpPort()
        + "}");
    nodeManager.stop();
    System.exit(0);
  }

  /** Announce the addresses, then wait for stdin to close (the test session's end). */
  static void ready(String json) throws Exception {
    System.out.println("READY " + json);
    System.out.flush();
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
    while (in.readLine() != null) {
      // nothing to do: the parent closes stdin (or kills us) to stop
    }
  }
}

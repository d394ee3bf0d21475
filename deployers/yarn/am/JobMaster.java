// aiflow's YARN ApplicationMaster: runs one attempt of one aiflow job in the AM container.
//
// Why an AM of our own: a YARN application's first container is its ApplicationMaster, and the
// ResourceManager fails an application whose AM never registers, and expires a registered AM
// that stops heartbeating (yarn.am.liveness-monitor.expiry-interval-ms). A job's command cannot
// do either, so this small class does: it registers, runs the job's command as its child,
// heartbeats while the child runs (a stream job may run for months), copies the child's output
// to the job's log file on the cluster's file system as it is written, and unregisters with the
// outcome (SUCCEEDED, or FAILED with the exit code in the diagnostics the deployer reads).
// One container per job, none requested beyond the AM's: the job is the AM's child process.
//
// Usage (the deployer writes this command):
//   java -cp <am jar>:<hadoop classpath> JobMaster [--log URI] [--cwd DIR] [--env B64] --argv B64
// where B64 is base64 of NUL-separated strings (the argv; the KEY=VALUE variables).
// Secrets the deployer put in the application's credentials under "aiflow.env.NAME" become the
// child's environment variable NAME: credentials never appear in the container's launch
// environment or command line, which the NodeManager writes to disk.
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.hdfs.client.HdfsDataOutputStream;
import org.apache.hadoop.hdfs.client.HdfsDataOutputStream.SyncFlag;
import org.apache.hadoop.io.Text;
import org.apache.hadoop.security.Credentials;
import org.apache.hadoop.security.UserGroupInformation;
import org.apache.hadoop.yarn.api.records.Container;
import org.apache.hadoop.yarn.api.records.ContainerStatus;
import org.apache.hadoop.yarn.api.records.FinalApplicationStatus;
import org.apache.hadoop.yarn.api.records.NodeReport;
import org.apache.hadoop.yarn.api.records.UpdatedContainer;
import org.apache.hadoop.yarn.client.api.AMRMClient.ContainerRequest;
import org.apache.hadoop.yarn.client.api.async.AMRMClientAsync;
import org.apache.hadoop.yarn.conf.YarnConfiguration;

public final class JobMaster {
  static final String SECRET_PREFIX = "aiflow.env.";
  static final int HEARTBEAT_MS = 1000;
  static final long FLUSH_MS = 500;

  private static volatile Process child;
  private static volatile String shutdownReason;

  public static void main(String[] args) throws Exception {
    String logUri = null;
    String workingDir = null;
    List<String> command = new ArrayList<>();
    Map<String, String> jobEnv = new HashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      switch (args[i]) {
        case "--log":
          logUri = args[i + 1];
          break;
        case "--cwd":
          workingDir = args[i + 1];
          break;
        case "--argv":
          command.addAll(decode(args[i + 1]));
          break;
        case "--env":
          for (String pair : decode(args[i + 1])) {
            int eq = pair.indexOf('=');
            jobEnv.put(pair.substring(0, eq), pair.substring(eq + 1));
          }
          break;
        default:
          usage("unknown option " + args[i]);
      }
    }
    if (command.isEmpty()) {
      usage("no command");
    }

    Configuration conf = new YarnConfiguration();
    AMRMClientAsync<ContainerRequest> rm =
        AMRMClientAsync.createAMRMClientAsync(HEARTBEAT_MS, new Callbacks());
    rm.init(conf);
    rm.start();
    rm.registerApplicationMaster(InetAddress.getLocalHost().getHostName(), 0, "");

    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    Map<String, String> env = builder.environment();
    // The container's Hadoop client jars, as `hadoop classpath` gives them on an edge node:
    // PyFlink puts HADOOP_CLASSPATH on its JVM's classpath, so a Flink job reaches hdfs://.
    String classpath = System.getenv("CLASSPATH");
    if (classpath != null && !env.containsKey("HADOOP_CLASSPATH")) {
      env.put("HADOOP_CLASSPATH", classpath);
    }
    env.putAll(jobEnv);
    if (workingDir != null) {
      builder.directory(new java.io.File(workingDir));
    }
    Credentials credentials = UserGroupInformation.getCurrentUser().getCredentials();
    for (Text key : credentials.getAllSecretKeys()) {
      String name = key.toString();
      if (name.startsWith(SECRET_PREFIX)) {
        env.put(name.substring(SECRET_PREFIX.length()),
            new String(credentials.getSecretKey(key), StandardCharsets.UTF_8));
      }
    }
    env.remove("HADOOP_TOKEN_FILE_LOCATION"); // the job needs none of YARN's tokens

    LogCopy log = new LogCopy(conf, logUri);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      // The application was killed (SIGTERM from the NodeManager, SIGKILL follows after the
      // cluster's yarn.nodemanager.sleep-delay-before-sigkill.ms, 250 ms by default): end the
      // job, give it a moment for its last words, keep its log.
      Process running = child;
      if (running != null && running.isAlive()) {
        running.destroy();
        try {
          running.waitFor(100, java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      log.close();
    }));
    int exitCode;
    try {
      child = builder.start();
      log.pump(child.getInputStream());
      exitCode = child.waitFor();
    } catch (IOException e) {
      log.write(("aiflow: cannot start the job's command " + command + ": " + e + "\n")
          .getBytes(StandardCharsets.UTF_8));
      exitCode = 127;
    }
    log.close();
    FinalApplicationStatus status =
        exitCode == 0 ? FinalApplicationStatus.SUCCEEDED : FinalApplicationStatus.FAILED;
    String diagnostics = shutdownReason != null ? shutdownReason : "aiflow exit code: " + exitCode;
    rm.unregisterApplicationMaster(status, diagnostics, "");
    rm.stop();
    System.exit(0);
  }

  /** Base64 of NUL-separated strings: safe inside the NodeManager's launch script, whatever
   * quotes or dollar signs the job's arguments and variables hold. */
  static List<String> decode(String base64) {
    String joined = new String(Base64.getDecoder().decode(base64), StandardCharsets.UTF_8);
    return joined.isEmpty() ? new ArrayList<>() : Arrays.asList(joined.split("\u0000", -1));
  }

  static void usage(String why) {
    System.err.println("JobMaster: " + why
        + "; usage: JobMaster [--log URI] [--cwd DIR] [--env B64] --argv B64");
    System.exit(2);
  }

  /** The child's output, appended to the container's job.log (the NodeManager serves it while
   * the container runs) and to the log file on the cluster's file system (what is read after).
   * A timer flushes both every FLUSH_MS while there is unflushed output, so a job that writes a
   * line and then goes quiet is seen at once, whatever the writes' timing. */
  static final class LogCopy {
    private final List<OutputStream> outputs = new ArrayList<>();
    private FSDataOutputStream remote;
    private boolean dirty;
    private boolean closed;
    private long lastFlush;

    LogCopy(Configuration conf, String uri) throws IOException {
      String logDirs = System.getenv("LOG_DIRS");
      if (logDirs != null && !logDirs.isEmpty()) {
        outputs.add(Files.newOutputStream(Paths.get(logDirs.split(",")[0], "job.log")));
      }
      if (uri != null) {
        Path path = new Path(uri);
        remote = path.getFileSystem(conf).create(path, true);
        outputs.add(remote);
      }
      Thread flusher = new Thread(this::flushPeriodically, "aiflow-log-flush");
      flusher.setDaemon(true);
      flusher.start();
    }

    void pump(InputStream in) throws IOException {
      byte[] buffer = new byte[8192];
      int n;
      while ((n = in.read(buffer)) > 0) {
        write(Arrays.copyOf(buffer, n));
      }
    }

    synchronized void write(byte[] bytes) throws IOException {
      if (closed) {
        return;
      }
      for (OutputStream out : outputs) {
        out.write(bytes);
      }
      long now = System.currentTimeMillis();
      if (now - lastFlush >= FLUSH_MS) { // the first output after a quiet spell: at once
        flush();
        dirty = false;
      } else {
        dirty = true; // the timer flushes it within FLUSH_MS
      }
    }

    private void flushPeriodically() {
      while (true) {
        try {
          Thread.sleep(FLUSH_MS);
          synchronized (this) {
            if (closed) {
              return;
            }
            if (dirty) {
              flush();
              dirty = false;
            }
          }
        } catch (InterruptedException e) {
          return;
        } catch (IOException e) {
          System.err.println("aiflow: flushing the job log: " + e);
        }
      }
    }

    private void flush() throws IOException {
      lastFlush = System.currentTimeMillis();
      for (OutputStream out : outputs) {
        out.flush();
      }
      if (remote instanceof HdfsDataOutputStream) {
        // Readers see the log so far, and the NameNode its length: WebHDFS refuses to read
        // from an offset past the NameNode's length, which plain hflush does not update.
        ((HdfsDataOutputStream) remote).hsync(EnumSet.of(SyncFlag.UPDATE_LENGTH));
      } else if (remote != null) {
        remote.hflush();
      }
    }

    synchronized void close() {
      if (closed) {
        return;
      }
      closed = true;
      for (OutputStream out : outputs) {
        try {
          out.close();
        } catch (IOException e) {
          System.err.println("aiflow: closing the job log: " + e);
        }
      }
    }
  }

  /** Heartbeats carry no container requests; only a shutdown order from the RM matters. */
  static final class Callbacks extends AMRMClientAsync.AbstractCallbackHandler {
    @Override
    public void onContainersCompleted(List<ContainerStatus> statuses) {}

    @Override
    public void onContainersAllocated(List<Container> containers) {}

    @Override
    public void onContainersUpdated(List<UpdatedContainer> containers) {}

    @Override
    public void onShutdownRequest() {
      shutdownReason = "the ResourceManager asked the ApplicationMaster to shut down";
      Process running = child;
      if (running != null) {
        running.destroy();
      }
    }

    @Override
    public void onNodesUpdated(List<NodeReport> updated) {}

    @Override
    public float getProgress() {
      return 0.5f;
    }

    @Override
    public void onError(Throwable e) {
      shutdownReason = "the ApplicationMaster lost the ResourceManager: " + e;
      Process running = child;
      if (running != null) {
        running.destroy();
      }
    }
  }
}

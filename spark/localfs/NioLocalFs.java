// Hadoop's local file system for Spark on a machine without Hadoop's native
// library (every pip-installed pyspark): the same, except that it sets file
// permissions with java.nio instead of running `chmod` in a child process.
//
// Without libhadoop, RawLocalFileSystem.setPermission forks `chmod` for every
// file it creates, and a streaming query creates several per micro-batch (the
// offset and commit logs, each state store's delta file, their .crc files):
// on 2 cores that is 40-60 ms of each small batch's checkpoint writes
// (docs/BENCHMARKS.md). spark/submit.sh builds this into a jar once
// (--build-localfs) and uses it for the file: scheme with local masters.
package org.sfcrime.hadoop;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.ChecksumFs;
import org.apache.hadoop.fs.DelegateToFileSystem;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FsServerDefaults;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.local.LocalConfigKeys;
import org.apache.hadoop.fs.permission.FsPermission;

public final class NioLocalFs {
  private NioLocalFs() {}

  /** The rwx bits of a Hadoop permission as java.nio's (the POSIX order). */
  static Set<PosixFilePermission> posix(FsPermission permission) {
    PosixFilePermission[] order = {
      PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE,
      PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.GROUP_READ,
      PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_EXECUTE,
      PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE,
      PosixFilePermission.OTHERS_EXECUTE,
    };
    int bits = permission.toShort() & 0777;
    Set<PosixFilePermission> set = EnumSet.noneOf(PosixFilePermission.class);
    for (int i = 0; i < order.length; i++) {
      if ((bits & (0400 >> i)) != 0) {
        set.add(order[i]);
      }
    }
    return set;
  }

  /** RawLocalFileSystem, with permissions set in-process. */
  public static class RawFileSystem extends RawLocalFileSystem {
    @Override
    public void setPermission(Path p, FsPermission permission) throws IOException {
      Files.setPosixFilePermissions(pathToFile(p).toPath(), posix(permission));
    }

    @Override
    public FileStatus getFileLinkStatus(Path f) throws IOException {
      if (Files.isSymbolicLink(pathToFile(f).toPath())) {
        return super.getFileLinkStatus(f); // Hadoop's own, which runs readlink
      }
      return getFileStatus(f); // not a link: its own status
    }
  }

  /** fs.file.impl: LocalFileSystem (with .crc checksums) over RawFileSystem. */
  public static class FileSystem extends LocalFileSystem {
    public FileSystem() {
      super(new RawFileSystem());
    }
  }

  /** The FileContext side, as Hadoop's RawLocalFs but over RawFileSystem. */
  public static class RawAbstractFs extends DelegateToFileSystem {
    public RawAbstractFs(URI uri, Configuration conf) throws IOException, URISyntaxException {
      super(uri, new RawFileSystem(), conf, "file", false);
    }

    @Override
    public int getUriDefaultPort() {
      return -1; // no default port for file:///
    }

    @Override
    @Deprecated
    public FsServerDefaults getServerDefaults() throws IOException {
      return LocalConfigKeys.getServerDefaults();
    }

    @Override
    public FsServerDefaults getServerDefaults(Path f) throws IOException {
      return LocalConfigKeys.getServerDefaults();
    }

    @Override
    public boolean isValidName(String src) {
      return true; // any local file name is valid
    }
  }

  /** fs.AbstractFileSystem.file.impl: as Hadoop's LocalFs, over RawAbstractFs. */
  public static class AbstractFs extends ChecksumFs {
    public AbstractFs(URI uri, Configuration conf) throws IOException, URISyntaxException {
      super(new RawAbstractFs(uri, conf));
    }
  }
}

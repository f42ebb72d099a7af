using System.Globalization;

namespace DurableQueue.Diagnostics;

/// <summary>
/// Linux process files the doctor reads. It never opens the database, WAL or shared-memory file itself: closing any
/// descriptor of a file drops every POSIX lock the process holds on it, SQLite's included. It finds the descriptors
/// SQLite already holds instead (<c>/proc/self/fd</c>) and reads what the kernel says about them.
/// </summary>
internal static class ProcFiles
{
    /// <summary>The mount id and inode of a file this process has open; nulls when it has none (or not on Linux).</summary>
    public static (int? MountId, long? Inode) OfOpenFile(string path)
    {
        if (!OperatingSystem.IsLinux() || !Directory.Exists("/proc/self/fd"))
        {
            return (null, null);
        }

        try
        {
            foreach (var link in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
            {
                string? target;
                try
                {
                    target = new FileInfo(link).LinkTarget;
                }
                catch (IOException)
                {
                    continue; // closed meanwhile
                }

                if (!string.Equals(target, path, StringComparison.Ordinal))
                {
                    continue;
                }

                int? mountId = null;
                long? inode = null;
                foreach (var line in File.ReadAllLines("/proc/self/fdinfo/" + Path.GetFileName(link)))
                {
                    var parts = line.Split(':', 2, StringSplitOptions.TrimEntries);
                    if (parts.Length == 2 && parts[0] == "mnt_id" && int.TryParse(parts[1], CultureInfo.InvariantCulture, out var m))
                    {
                        mountId = m;
                    }
                    else if (parts.Length == 2 && parts[0] == "ino" && long.TryParse(parts[1], CultureInfo.InvariantCulture, out var i))
                    {
                        inode = i;
                    }
                }

                return (mountId, inode);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }

        return (null, null);
    }

    /// <summary>
    /// The processes that hold a POSIX read lock on a byte range of a file (by device and inode), from <c>/proc/locks</c>.
    /// </summary>
    public static IReadOnlyList<int> ReadLockHolders(int major, int minor, long inode, long firstByte, long lastByte, string locksPath = "/proc/locks")
    {
        var holders = new SortedSet<int>();
        string[] lines;
        try
        {
            lines = File.ReadAllLines(locksPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return [];
        }

        foreach (var line in lines)
        {
            // "1: POSIX  ADVISORY  READ 1234 fe:00:732 123 123"; a waiter has "->" after the number.
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(t => t != "->").ToArray();
            if (f.Length < 8 || f[1] != "POSIX" || f[3] != "READ" || !int.TryParse(f[4], CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            var id = f[5].Split(':');
            if (id.Length != 3
                || !int.TryParse(id[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var maj)
                || !int.TryParse(id[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var min)
                || !long.TryParse(id[2], CultureInfo.InvariantCulture, out var ino)
                || maj != major || min != minor || ino != inode
                || !long.TryParse(f[6], CultureInfo.InvariantCulture, out var start))
            {
                continue;
            }

            var end = f[7] == "EOF" ? long.MaxValue : long.TryParse(f[7], CultureInfo.InvariantCulture, out var e) ? e : start;
            if (start <= lastByte && end >= firstByte)
            {
                holders.Add(pid);
            }
        }

        return [.. holders];
    }

    public static string ProcessName(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/comm").Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "?";
        }
    }

    /// <summary>What sysfs says about a block device: removable, attached by USB, an SD/eMMC card, a loop device's backing file.</summary>
    public static (bool Removable, bool Usb, bool Card, string? LoopBackingFile, string? Name) BlockDevice(int major, int minor)
    {
        if (major == 0 || !OperatingSystem.IsLinux())
        {
            return (false, false, false, null, null);
        }

        try
        {
            var link = $"/sys/dev/block/{major.ToString(CultureInfo.InvariantCulture)}:{minor.ToString(CultureInfo.InvariantCulture)}";
            var device = new DirectoryInfo(link).ResolveLinkTarget(returnFinalTarget: true)?.FullName;
            if (device is null || !Directory.Exists(device))
            {
                return (false, false, false, null, null);
            }

            var name = Path.GetFileName(device);
            // A partition has no "removable" of its own: its disk is the parent folder.
            var disk = File.Exists(Path.Combine(device, "removable")) ? device : Path.GetDirectoryName(device)!;
            var removable = ReadTrimmed(Path.Combine(disk, "removable")) == "1";
            var usb = device.Contains("/usb", StringComparison.Ordinal);
            var card = name.StartsWith("mmcblk", StringComparison.Ordinal);
            var backing = ReadTrimmed(Path.Combine(device, "loop", "backing_file"));
            return (removable, usb, card, string.IsNullOrEmpty(backing) ? null : backing, name);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return (false, false, false, null, null);
        }
    }

    private static string? ReadTrimmed(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}

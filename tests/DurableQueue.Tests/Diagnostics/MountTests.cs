using System.Diagnostics;

namespace DurableQueue.Tests.Diagnostics;

/// <summary>
/// The doctor on file systems the test mounts itself: tmpfs, an ext4 image on a loop device, an overlay. They need root
/// (as CI runs) and mount(8); where either is missing they fail and say why, they never pass without mounting.
/// </summary>
[Trait("Category", "Mounts")]
public sealed class MountTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("dq-mount-").FullName;
    private readonly List<string> _mounted = [];

    [Fact]
    public async Task DiagnoseAsync_OnTmpfs_WarnsNothingSurvivesAReboot_AndTheProbeSeesNoRealFlush()
    {
        var target = MountPoint("ram");
        Mount("-t", "tmpfs", "-o", "size=64m", "dq-test-tmpfs", target);

        var report = await DiagnoseAsync(Path.Combine(target, "app.db"), new DiagnoseOptions { ProbeFsync = true });

        Assert.Equal("tmpfs", report.FileSystem);
        Assert.Equal(target, report.MountPoint);
        Assert.Equal(FindingSeverity.Warning, Assert.Single(report.Findings, f => f.Code == "memory-file-system").Severity);
        // A flush on tmpfs reaches no disk: it returns in about a microsecond.
        Assert.Contains(report.Findings, f => f.Code == "fsync-too-fast");
    }

    [Fact]
    public async Task DiagnoseAsync_OnLoopMountedExt4_NamesTheImageFile()
    {
        var image = Path.Combine(_directory, "disk.img");
        using (var file = File.Create(image))
        {
            file.SetLength(32 * 1024 * 1024);
        }

        RunRequired("mkfs.ext4", "-q", "-F", image);
        var target = MountPoint("loop");
        Mount("-o", "loop", image, target);

        var report = await DiagnoseAsync(Path.Combine(target, "app.db"));

        Assert.Equal("ext4", report.FileSystem);
        Assert.Equal(target, report.MountPoint);
        Assert.StartsWith("/dev/loop", report.Device, StringComparison.Ordinal);
        var loop = Assert.Single(report.Findings, f => f.Code == "loop-device");
        Assert.Contains(image, loop.Summary, StringComparison.Ordinal);
        // A 32 MiB file system is below the default free-space threshold of 256 MiB: a real low-disk finding.
        Assert.Equal(FindingSeverity.Warning, Assert.Single(report.Findings, f => f.Code == "low-disk-space").Severity);

        var smallThreshold = await DiagnoseAsync(Path.Combine(target, "app.db"), new DiagnoseOptions { MinimumFreeDiskBytes = 1024 * 1024 });
        Assert.True(smallThreshold.IsHealthy, string.Join("; ", smallThreshold.Findings));
    }

    [Fact]
    public async Task DiagnoseAsync_OnOverlay_WarnsAboutTheContainerLayer()
    {
        var lower = MountPoint("lower");
        var upper = MountPoint("upper");
        var work = MountPoint("work");
        var target = MountPoint("merged");
        Mount("-t", "overlay", "dq-test-overlay", "-o", $"lowerdir={lower},upperdir={upper},workdir={work}", target);

        var report = await DiagnoseAsync(Path.Combine(target, "app.db"));

        Assert.Equal("overlay", report.FileSystem);
        Assert.Equal(FindingSeverity.Warning, Assert.Single(report.Findings, f => f.Code == "overlay-file-system").Severity);
        Assert.True(File.Exists(Path.Combine(upper, "app.db")), "the store's file landed in the overlay's upper layer");
    }

    private static async Task<DurabilityReport> DiagnoseAsync(string path, DiagnoseOptions? options = null)
    {
        await using var store = QueueStore.Open(path);
        await store.GetQueue("q").EnqueueAsync("x");
        return await store.DiagnoseAsync(options);
    }

    private string MountPoint(string name) => Directory.CreateDirectory(Path.Combine(_directory, name)).FullName;

    private void Mount(params string[] args)
    {
        Assert.True(Environment.UserName == "root", $"mounting needs root (this runs as '{Environment.UserName}'); CI runs these tests as root");
        RunRequired("mount", args);
        _mounted.Add(args[^1]);
    }

    private static void RunRequired(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            Assert.Fail($"'{file}' cannot be started ({ex.Message}); install it (util-linux, e2fsprogs)");
            return;
        }

        using (process)
        {
            var error = process.StandardError.ReadToEnd();
            process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', args)} failed with exit code {process.ExitCode}: {error.Trim()}");
        }
    }

    public void Dispose()
    {
        foreach (var target in Enumerable.Reverse(_mounted))
        {
            using var process = Process.Start("umount", ["-l", target]);
            process.WaitForExit();
        }

        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

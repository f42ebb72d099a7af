using System.Text;
using DurableQueue.PropertyTests.Crash;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace DurableQueue.PropertyTests.Faults;

/// <summary>
/// Files the store must refuse (DESIGN.md section 5): each gives a typed <see cref="StoreFileException"/> that says
/// what was found, and the file is left byte for byte as it was, so nothing committed in it is lost by the attempt.
/// </summary>
public sealed class BadFileTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("dq-bad-").FullName;

    [Fact]
    public void Open_NotASqliteFile_RefusesAndLeavesItUntouched()
    {
        var file = Path.Combine(_directory, "notes.db");
        File.WriteAllText(file, string.Concat(Enumerable.Repeat("These are my notes, not a database.\n", 300)));
        AssertRefused(file, StoreFileProblem.NotADatabase);
    }

    [Fact]
    public void Open_NewerSchemaVersion_RefusesAndLosesNothing()
    {
        var file = CreateStoreWithMessages(20);
        using (var connection = StoreFile.Open(file, SqliteOpenMode.ReadWrite))
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "UPDATE dq_meta SET value = 999 WHERE key = 'schema_version';";
            Assert.Equal(1, command.ExecuteNonQuery());
        }

        var ex = AssertRefused(file, StoreFileProblem.NewerSchema);
        Assert.Contains("999", ex.Message, StringComparison.Ordinal);
        Assert.Equal(20, StoreFile.Messages(file).Count);
    }

    [Theory]
    [InlineData(50)]
    [InlineData(4096)]
    [InlineData(-1)]
    public void Open_TruncatedFile_Refuses(int keepBytes)
    {
        var file = CreateStoreWithMessages(300);
        var length = new FileInfo(file).Length;
        using (var stream = new FileStream(file, FileMode.Open))
        {
            stream.SetLength(keepBytes > 0 ? keepBytes : length / 2);
        }

        AssertRefused(file, StoreFileProblem.NotADatabase, StoreFileProblem.Corrupt);
    }

    [Theory]
    [InlineData(0, 100)]        // the header: magic string and page size
    [InlineData(100, 3000)]     // page 1: the schema table
    [InlineData(2 * 4096, 4096)] // page 3: dq_meta, read at open for the schema version
    public void Open_CorruptFile_Refuses(int offset, int count)
    {
        var file = CreateStoreWithMessages(300);
        Overwrite(file, offset, count);
        AssertRefused(file, StoreFileProblem.NotADatabase, StoreFileProblem.Corrupt);
    }

    /// <summary>
    /// Regression: damage in a page that opening does not read (here the root page of dq_messages) used to surface as
    /// a raw SqliteException (code 11) from counts, receive and enqueue. It is now a typed StoreFileException(Corrupt)
    /// on first touch, and the failed operations leave the file as it was.
    /// </summary>
    [Fact]
    public async Task CorruptMessagePage_FirstUse_ThrowsTypedCorruptAndLeavesFileUntouched()
    {
        var file = CreateStoreWithMessages(300);
        Assert.Equal(7L, RootPage(file, "dq_messages"));
        Overwrite(file, 6 * 4096, 4096);
        // Opening a store records its session in dq_meta (and closing removes it): every page but those of dq_meta and
        // its key index must stay as it was.
        int[] meta = [(int)RootPage(file, "dq_meta"), (int)RootPage(file, "sqlite_autoindex_dq_meta_1")];
        var before = HashExceptPages(file, meta);

        await using (var store = QueueStore.Open(file))
        {
            var queue = store.GetQueue("work");
            Assert.Equal(StoreFileProblem.Corrupt, (await Assert.ThrowsAsync<StoreFileException>(async () => await queue.GetCountsAsync())).Problem);
            Assert.Equal(StoreFileProblem.Corrupt, (await Assert.ThrowsAsync<StoreFileException>(async () => await queue.ReceiveAsync(10))).Problem);
            Assert.Equal(StoreFileProblem.Corrupt, (await Assert.ThrowsAsync<StoreFileException>(async () => await queue.EnqueueAsync("more"))).Problem);
        }

        Assert.Equal(before, HashExceptPages(file, meta));
    }

    private static string HashExceptPages(string file, int[] pages)
    {
        var bytes = File.ReadAllBytes(file);
        foreach (var page in pages)
        {
            Array.Clear(bytes, (page - 1) * 4096, 4096);
        }

        return Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes));
    }

    private static void Overwrite(string file, int offset, int count)
    {
        using var stream = new FileStream(file, FileMode.Open);
        stream.Position = offset;
        var garbage = new byte[count];
        new Random(offset + count).NextBytes(garbage);
        stream.Write(garbage);
    }

    private static long RootPage(string file, string table)
    {
        using var connection = StoreFile.Open(file, SqliteOpenMode.ReadOnly);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT rootpage FROM sqlite_master WHERE name = @name;";
        command.Parameters.AddWithValue("@name", table);
        return (long)command.ExecuteScalar()!;
    }

    [Fact]
    public void Open_ReadOnlyFile_RefusesAndLosesNothing()
    {
        if (OperatingSystem.IsWindows())
        {
            output.WriteLine("SKIPPED: the read-only variant is written for Unix file modes.");
            return;
        }

        var file = CreateStoreWithMessages(20);
        using var readOnly = ReadOnlyFile.Make(file);
        if (readOnly.SkipReason is { } reason)
        {
            output.WriteLine("SKIPPED: " + reason);
            return;
        }

        output.WriteLine($"made read-only with {readOnly.How}");
        var before = StoreFile.Hash(file);
        var ex = Assert.Throws<StoreFileException>(() => QueueStore.Open(file).Dispose());
        output.WriteLine($"{ex.Problem}: {ex.Message}");
        Assert.Equal(StoreFileProblem.ReadOnly, ex.Problem);
        Assert.Equal(before, StoreFile.Hash(file));
        // SQLite may leave an empty WAL beside a WAL-mode file it opened read-only; it holds nothing.
        Assert.True(!File.Exists(file + "-wal") || new FileInfo(file + "-wal").Length == 0);
        readOnly.Dispose();
        Assert.Equal(20, StoreFile.Messages(file).Count);
    }

    private StoreFileException AssertRefused(string file, params StoreFileProblem[] problems)
    {
        var before = StoreFile.HashWithCompanions(file);
        var ex = Assert.Throws<StoreFileException>(() => QueueStore.Open(file).Dispose());
        output.WriteLine($"{ex.Problem}: {ex.Message}");
        Assert.Contains(ex.Problem, problems);
        Assert.Equal(file, ex.Path);
        SqliteConnection.ClearAllPools();
        Assert.Equal(before, StoreFile.HashWithCompanions(file));
        return ex;
    }

    private string CreateStoreWithMessages(int count)
    {
        var file = Path.Combine(_directory, $"store-{Guid.NewGuid():N}.db");
        using (var store = QueueStore.Open(file, new QueueStoreOptions { Durability = Durability.Normal }))
        {
            store.GetQueue("work").EnqueueBatchAsync(Enumerable.Range(0, count).Select(i => (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes($"message {i}")))
                .AsTask().GetAwaiter().GetResult();
        }

        // A clean close checkpoints: the file alone holds everything, without -wal or -shm beside it.
        Assert.False(File.Exists(file + "-wal"));
        return file;
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}

/// <summary>
/// Makes a file read-only in a way that binds root too: chmod does not stop root, so as root the immutable
/// attribute (chattr +i) is used where the file system supports it.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
internal sealed class ReadOnlyFile : IDisposable
{
    private readonly string _path;
    private bool _undone;

    private ReadOnlyFile(string path, string? how, string? skipReason)
    {
        _path = path;
        How = how;
        SkipReason = skipReason;
    }

    public string? How { get; }

    public string? SkipReason { get; }

    public static ReadOnlyFile Make(string path)
    {
        if (!FaultEnvironment.IsRoot)
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            return new ReadOnlyFile(path, "chmod 444", null);
        }

        if (FaultEnvironment.Chattr is { } chattr && FaultEnvironment.Run(chattr, "+i", path).Exit == 0)
        {
            return new ReadOnlyFile(path, "chattr +i", null);
        }

        return new ReadOnlyFile(path, null, "running as root and chattr +i is not available here: root ignores file permissions, so a read-only file cannot be made");
    }

    public void Dispose()
    {
        if (_undone || SkipReason is not null)
        {
            return;
        }

        _undone = true;
        if (How == "chattr +i")
        {
            FaultEnvironment.Run(FaultEnvironment.Chattr!, "-i", _path);
        }
        else
        {
            File.SetUnixFileMode(_path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }
}

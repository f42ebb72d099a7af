using System.Data.Common;
using System.Globalization;
using DurableQueue.Postgres;
using DurableQueue.Testing.Postgres;
using Npgsql;

namespace DurableQueue.PropertyTests.Model;

/// <summary>
/// The store on PostgreSQL: a schema of its own per run in the test run's database on a private cluster, so runs never
/// see each other. Each store (the one under test, each of its successors after a crash, and the other store) has a data
/// source of its own with an application name of its own, which is how a crash finds every connection of one store.
/// </summary>
/// <remarks>
/// What differs from the file, and why:
/// <list type="bullet">
/// <item>A crash is a process that stops talking: its data source is disposed (it can open no connection again), the
/// server terminates every backend connection it had (<c>pg_terminate_backend</c>), and only then is the object
/// released, which can write nothing any more. A new store opens on the schema. The server itself does not crash: what
/// its WAL does is PostgreSQL's business; what the store does when its connection dies is ours.</item>
/// <item>A crash in the middle of a write is a trigger on <c>dq_messages</c> that makes the writer's own backend
/// terminate itself: part way through the write's statements (cut Before), or at its COMMIT (cut Torn, a deferred
/// constraint trigger, after every statement ran and before the commit is durable). The caller must get a typed,
/// retryable <see cref="StorageUnavailableException"/> and nothing of the write may be in the tables. Cut After is a
/// write that committed and answered, followed by a crash. There is no torn WAL to cut on a server, so the position of
/// a torn cut is not used here.</item>
/// <item>The memory tier does not exist on PostgreSQL (other hosts change the rows); runs use no budget and the
/// checks of the tier's contents are SQLite's only.</item>
/// </list>
/// </remarks>
internal sealed partial class QueueSut
{
    private const string CrashFunction = """
        CREATE FUNCTION model_crash() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_terminate_backend(pg_backend_pid());
            -- Sleeping serves the termination at once; the statement never returns.
            PERFORM pg_sleep(60);
            RETURN NULL;
        END $$;
        """;

    private string _schema = "";
    private string _databaseConnectionString = "";
    private NpgsqlDataSource? _readerSource;
    private NpgsqlDataSource? _storeSource;
    private NpgsqlDataSource? _otherSource;
    private string _storeApplicationName = "";
    private int _otherGeneration;
    private bool _crashFunctionMade;

    private void CreateSchema()
    {
        _databaseConnectionString = PostgresModelDatabase.ConnectionString();
        _schema = "m_" + Guid.NewGuid().ToString("N")[..16];
        _readerSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(_databaseConnectionString)
        {
            SearchPath = _schema,
            ApplicationName = $"dq-model-{_schema}-reader",
        }.ConnectionString);
    }

    private QueueStore OpenPostgresStore()
    {
        _storeApplicationName = $"dq-model-{_schema}-{_generation}";
        _storeSource = DataSource(_storeApplicationName);
        return QueueStore.Open(_storeSource, Options(), new PostgresStoreOptions { Schema = _schema });
    }

    private QueueStore OpenOtherPostgresStore()
    {
        _otherSource = DataSource($"dq-model-{_schema}-other{++_otherGeneration}");
        return QueueStore.Open(_otherSource, Options(), new PostgresStoreOptions { Schema = _schema });
    }

    private void CloseOtherPostgres()
    {
        _otherSource?.Dispose();
        _otherSource = null;
    }

    private NpgsqlDataSource DataSource(string applicationName) =>
        NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(_databaseConnectionString) { ApplicationName = applicationName }.ConnectionString);

    private NpgsqlConnection OpenPostgresReader() => _readerSource!.OpenConnection();

    /// <summary>The store stops as a killed process does (see the remarks of this class); a new one opens on the schema.</summary>
    private void CrashPostgres()
    {
        AbandonPostgresStore();
        _generation++;
        ReopenAfterCrash();
        Coverage.Count("crashes (PostgreSQL: connections terminated)");
    }

    private void AbandonPostgresStore()
    {
        // First no new connection, then the server closes the ones it has: from here the old store cannot write.
        _storeSource!.Dispose();
        using (var connection = OpenPostgresReader())
        {
            Execute(connection, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = @name;", ("@name", _storeApplicationName));
            var deadline = Environment.TickCount64 + 30_000;
            while (Scalar(connection, "SELECT count(*) FROM pg_stat_activity WHERE application_name = @name;", ("@name", _storeApplicationName)) > 0)
            {
                Require(Environment.TickCount64 < deadline, $"the connections of {_storeApplicationName} were still there 30 s after pg_terminate_backend");
                Thread.Sleep(1);
            }
        }

        // Releases the object only: every statement it still tries fails on a dead connection or a disposed data source.
        try
        {
            Store.Dispose();
        }
        catch (Exception ex) when (ex is DurableQueueException or NpgsqlException or ObjectDisposedException or InvalidOperationException)
        {
            // A killed process says no goodbye either.
        }
    }

    /// <summary>
    /// Runs <paramref name="write"/> with its connection killed part way (Before) or at its COMMIT (Torn), or lets it
    /// commit (After); then the store crashes and a new one opens. Returns the write's ids when it committed.
    /// </summary>
    private IReadOnlyList<MessageId>? CrashDuringWritePostgres(CrashCut cut, bool changesRows, Func<MessageQueue, Task<IReadOnlyList<MessageId>?>> write)
    {
        using (var connection = OpenPostgresReader())
        {
            if (!_crashFunctionMade)
            {
                Execute(connection, CrashFunction);
                _crashFunctionMade = true;
            }

            if (cut == CrashCut.Before)
            {
                Execute(connection, "CREATE TRIGGER model_crash AFTER INSERT OR UPDATE OR DELETE ON dq_messages FOR EACH ROW EXECUTE FUNCTION model_crash();");
            }
            else if (cut == CrashCut.Torn)
            {
                Execute(connection,
                    "CREATE CONSTRAINT TRIGGER model_crash AFTER INSERT OR UPDATE OR DELETE ON dq_messages DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION model_crash();");
            }
        }

        IReadOnlyList<MessageId>? ids = null;
        Exception? failure = null;
        try
        {
            // A guard only: the write ends at once, answered or failed.
            ids = write(Queue).WaitAsync(TimeSpan.FromSeconds(60)).GetAwaiter().GetResult();
        }
        catch (Exception ex) when (cut != CrashCut.After && ex is not TimeoutException)
        {
            failure = ex;
        }
        finally
        {
            if (cut != CrashCut.After)
            {
                using var connection = OpenPostgresReader();
                Execute(connection, "DROP TRIGGER model_crash ON dq_messages;");
            }
        }

        var where = cut == CrashCut.Before ? "part way through its statements" : "at its COMMIT";
        if (cut != CrashCut.After && changesRows)
        {
            Require(failure is StorageUnavailableException,
                $"the write whose connection died {where} gave {(failure is null ? "success" : $"{failure.GetType().Name}: {failure.Message}")}, expected StorageUnavailableException");
        }
        else if (failure is not null)
        {
            // A write that changes no row (a deduplicated enqueue) fires no trigger: it answers as usual.
            throw new ModelMismatchException($"the write that changes no row failed: {failure.GetType().Name}: {failure.Message}");
        }

        Coverage.Count(cut == CrashCut.After ? "crashes after a committed write (PostgreSQL)" : $"crashes during a write (PostgreSQL), connection killed {where}");
        AbandonPostgresStore();
        _generation++;
        ReopenAfterCrash();
        return ids;
    }

    /// <summary>Drops the run's schema (and everything in it) once every store of the run is closed.</summary>
    private void DropSchema()
    {
        CloseOtherPostgres();
        _storeSource?.Dispose();
        _readerSource?.Dispose();
        if (_schema.Length == 0 || _databaseConnectionString.Length == 0)
        {
            return;
        }

        using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(_databaseConnectionString) { Pooling = false }.ConnectionString);
        connection.Open();
        Execute(connection, $"DROP SCHEMA IF EXISTS \"{_schema}\" CASCADE;");
    }

    private static void Execute(NpgsqlConnection connection, string sql, params (string Name, object Value)[] parameters) => Exec(connection, sql, parameters);

    private static long Scalar(DbConnection connection, string sql, params (string Name, object Value)[] parameters)
    {
        using var command = Command(connection, sql, parameters);
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }
}

/// <summary>The database of the model runs of this test process: one on the process's private cluster, a schema per run inside it.</summary>
internal static class PostgresModelDatabase
{
    private static readonly Lazy<Task<string>> s_database = new(async () =>
        await (await SharedPostgres.ClusterAsync().ConfigureAwait(false)).CreateDatabaseAsync("model").ConfigureAwait(false));

    /// <summary>Returns the superuser's connection string on the database, starting the cluster on first use.</summary>
    /// <exception cref="PostgresClusterException">The cluster could not start; the message says why.</exception>
    public static Task<string> ConnectionStringAsync() => s_database.Value;

    public static string ConnectionString() => ConnectionStringAsync().GetAwaiter().GetResult();
}

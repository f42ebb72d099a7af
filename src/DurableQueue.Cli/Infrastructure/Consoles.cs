using Spectre.Console;

namespace DurableQueue.Cli.Infrastructure;

/// <summary>
/// The two consoles of the tool: results go to stdout, errors and progress to stderr, so that output can be piped.
/// When a stream is redirected, nothing is styled and tables get a fixed width of 200 columns.
/// </summary>
internal static class Consoles
{
    private static IAnsiConsole? s_out;
    private static IAnsiConsole? s_error;

    public static IAnsiConsole Out => s_out ??= Create(Console.Out, Console.IsOutputRedirected);

    public static IAnsiConsole Error => s_error ??= Create(Console.Error, Console.IsErrorRedirected);

    public static bool OutIsTerminal => !Console.IsOutputRedirected;

    public static bool ErrorIsTerminal => !Console.IsErrorRedirected;

    public static bool InputIsTerminal => !Console.IsInputRedirected;

    private static IAnsiConsole Create(TextWriter writer, bool redirected)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = redirected ? AnsiSupport.No : AnsiSupport.Detect,
            ColorSystem = redirected ? ColorSystemSupport.NoColors : ColorSystemSupport.Detect,
            Interactive = redirected ? InteractionSupport.No : InteractionSupport.Detect,
        });
        if (redirected)
        {
            console.Profile.Width = 200;
        }

        return console;
    }
}

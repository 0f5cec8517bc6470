// Match reads EventBridge patterns and matches events against them with
// event-ruler, the library behind EventBridge, in one JVM run.
//
// Usage: java -cp CLASSPATH Match NAME=PATTERN_FILE ... < events.jsonl
//
// Every argument names a pattern and the file that holds it; a pattern that
// event-ruler refuses exits with status 2 and its error. Then every line of
// standard input is one event, and every line of output answers the line of
// the same number: the names of the matching patterns, sorted and separated
// by spaces (an empty line when none matches), or "!error MESSAGE" when the
// event is not JSON that event-ruler accepts.
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import software.amazon.event.ruler.Machine;

public class Match {
    public static void main(String[] args) throws Exception {
        Machine machine = Machine.builder().build();
        for (String arg : args) {
            int eq = arg.indexOf('=');
            if (eq <= 0) {
                System.err.println("match: want NAME=FILE, got " + arg);
                System.exit(2);
            }
            String name = arg.substring(0, eq);
            String pattern = Files.readString(Path.of(arg.substring(eq + 1)));
            try {
                machine.addRule(name, pattern);
            } catch (Exception e) {
                System.err.println("match: pattern " + name + ": " + e.getMessage());
                System.exit(2);
            }
        }
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        BufferedWriter out = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8));
        for (String line; (line = in.readLine()) != null; ) {
            try {
                List<String> names = new ArrayList<>(machine.rulesForJSONEvent(line));
                Collections.sort(names);
                out.write(String.join(" ", names));
            } catch (Exception e) {
                out.write("!error " + String.valueOf(e.getMessage()).replace('\n', ' '));
            }
            out.newLine();
        }
        out.flush();
    }
}

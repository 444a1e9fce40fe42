/* elf_script_interp: an executable whose PT_INTERP names a shell script
 * (linked with --dynamic-linker=.../elf_interp.sh).  Nothing may run that
 * script: vmlaunch must refuse the plugin, naming the interpreter.  This
 * main() never runs either. */
int main(void) {
        return 0;
}

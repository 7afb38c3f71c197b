// The same pipeline as the top-level Jenkinsfile, on any Jenkins today: no plugin, only
// the jenkins-kernel CLI in sh steps. Exit codes decide the build (0 succeeded, 1 a cell
// failed, 2 timed out, 3 the kernel died, 4 cancelled, 5 rejected); an abort sends SIGTERM,
// which cancels the run and still writes the reports.
//
// Two ways to run, both shown: embedded (the CLI starts its own kernel: nothing to
// install but the CLI) and client mode (the agent service keeps kernels warm and the
// steps of a build share one through --session "$BUILD_TAG").
pipeline {
    agent { label 'notebooks' }

    parameters {
        string(name: 'LEARNING_RATE', defaultValue: '0.05', description: 'Gradient descent step size')
        string(name: 'EPOCHS', defaultValue: '200', description: 'Training epochs')
        string(name: 'TARGET_RMSE', defaultValue: '0.2', description: 'The build fails above this test RMSE')
    }

    options { timeout(time: 30, unit: 'MINUTES') }

    environment {
        JK = '.venv/bin/jenkins-kernel'
    }

    stages {
        stage('Set up') {
            steps {
                sh 'make venv'
            }
        }

        stage('Train (embedded)') {
            steps {
                // Build parameters reach the notebook through --param-env: NB_EPOCHS feeds `epochs`.
                withEnv(["NB_LEARNING_RATE=${params.LEARNING_RATE}", "NB_EPOCHS=${params.EPOCHS}",
                         "NB_TARGET_RMSE=${params.TARGET_RMSE}", "NB_RUN_NAME=${env.BUILD_TAG}"]) {
                    sh '$JK run examples/train.ipynb --param-env NB_ --cell-timeout 600 --timeout 1200 -o reports/train'
                }
            }
        }

        stage('Cells on the service') {
            environment {
                JENKINS_KERNEL_URL = 'http://127.0.0.1:8765'
                JENKINS_KERNEL_TOKEN = credentials('jenkins-kernel-token')
            }
            steps {
                sh '''
                    # this agent's service, started detached (it outlives the build) if it is not running
                    curl -fsS "$JENKINS_KERNEL_URL/api/v1/health" >/dev/null 2>&1 ||
                        $JK serve --detach --port 8765 --warm python3=1,bash=1
                    # Two steps, one kernel: the session named after the build keeps `data`.
                    $JK exec --session "$BUILD_TAG" -c 'data = list(range(10))'
                    $JK exec --session "$BUILD_TAG" -c 'print(sum(data))'
                    $JK run examples/bash.ipynb -p greeting "hello from Jenkins" -p count 2 -o reports/bash
                '''
            }
        }
    }

    post {
        always {
            junit allowEmptyResults: true, testResults: 'reports/**/junit.xml'
            archiveArtifacts allowEmptyArchive: true, artifacts: 'reports/**'
        }
        cleanup {
            withCredentials([string(credentialsId: 'jenkins-kernel-token', variable: 'TOKEN')]) {
                sh 'curl -sS -o /dev/null -X DELETE -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:8765/api/v1/sessions/$BUILD_TAG" || true'
            }
        }
    }
}
